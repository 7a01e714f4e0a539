"""Importing households and members from the XLSX/CSV rosters (花名册) villages already keep.

One row is one person; rows with the same 村民小组, 户主姓名 and 地址 form one household. The whole
file is checked before anything is written, and every bad row is reported (row number as Excel shows
it, column, problem); an import with any problem writes nothing. Import is idempotent: a household is
found again by its head's identity number (or, without one, by group + head's name + address) and a
member by identity number (or name) within it, so importing the same file twice writes once.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, NamedTuple

from sqlalchemy import select

from ..auth.models import User
from ..auth.scope import ensure_manages_village
from ..database import transaction
from ..errors import DomainError, NotFound
from ..extensions import db
from ..households import identity
from ..households import services as household_services
from ..households.models import Household, Member
from ..i18n import request_gettext as _
from ..inputs import control_message, has_control, is_mobile, normalize_phone
from ..spreadsheets import append_row
from ..villages.models import Region, Village, VillageGroup

MAX_ROWS = 50_000
MAX_MEMBERS = 30
HEAD_RELATIONS = {"户主", "本人", "head", "self"}

# Stable keys, the Chinese heading the template uses, and other headings rosters are seen with.
COLUMNS: dict[str, tuple[str, ...]] = {
    # Optional: a county-wide roster names each row's township; it must be the village's own.
    "township": ("乡镇", "乡镇（街道）", "所属乡镇", "township"),
    "group": ("村民小组", "小组", "组别", "组", "group"),
    "head_name": ("户主姓名", "户主", "head_name", "head"),
    "address": ("地址", "住址", "家庭住址", "address"),
    "name": ("姓名", "成员姓名", "name"),
    "relation": ("与户主关系", "关系", "relation"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "id_number"),
    "phone": ("手机号", "手机号码", "联系电话", "电话", "phone"),
    "tags": ("身份标签", "标签", "身份", "tags"),
}
REQUIRED = ("head_name", "name")
LIMITS = {"township": 100, "group": 50, "head_name": 50, "address": 200, "name": 50, "relation": 20}


def heading(key: str) -> str:
    return COLUMNS[key][0]


@dataclass
class Problem:
    row: int
    column: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "problem": self.problem}


@dataclass
class RosterRow:
    number: int
    values: dict[str, str]


@dataclass
class PlannedHousehold:
    key: tuple[str, str, str]
    head_name: str
    group: str
    address: str
    rows: list[RosterRow] = field(default_factory=list)
    existing_id: int | None = None
    new_members: list[dict[str, Any]] = field(default_factory=list)
    existing_members: int = 0
    # (member id, tags) for members already registered whose row names tags: the roster's tags replace theirs.
    tag_updates: list[tuple[int, list[str]]] = field(default_factory=list)


@dataclass
class Plan:
    village_id: int
    rows: int = 0
    households: list[PlannedHousehold] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def report(self, dry_run: bool, written: bool = False) -> dict[str, Any]:
        created = sum(1 for h in self.households if h.existing_id is None)
        return {
            "dry_run": dry_run,
            "ok": not self.problems,
            "written": written,
            "rows": self.rows,
            "households": len(self.households),
            "households_created": created,
            "households_existing": len(self.households) - created,
            "members_added": sum(len(h.new_members) for h in self.households),
            "members_existing": sum(h.existing_members for h in self.households),
            "errors": [p.as_dict() for p in sorted(self.problems, key=lambda p: (p.row, p.column))],
        }


# --- reading the file -------------------------------------------------------------------------------


def _text(value: Any, key: str | None = None) -> str | None:
    """A cell as text; None when a number has lost digits (an identity number typed as a number)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not value.is_integer():
            return str(value)
        if abs(value) >= 1e15:
            return None  # Excel keeps 15 significant digits: the last ones are gone
        value = int(value)
    if isinstance(value, int):
        if key == "id_number" and abs(value) >= 10**15:
            return None
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _match_headings(cells: list[Any]) -> dict[int, str]:
    lookup = {alias.lower(): key for key, aliases in COLUMNS.items() for alias in aliases}
    found: dict[int, str] = {}
    for index, cell in enumerate(cells):
        name = re.sub(r"[\s*：:（）()]", "", str(cell or "")).lower()
        key = lookup.get(name)
        if key is not None and key not in found.values():
            found[index] = key
    return found


def _raw_rows(data: bytes, filename: str) -> Iterable[list[Any]]:
    if data[:2] == b"PK" or filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise DomainError("unreadable-file", _("This is not a readable XLSX file."), status=422) from exc
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
        workbook.close()
        return
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("unreadable-file", _("The CSV file is neither UTF-8 nor GBK text."), status=422)
    yield from csv.reader(io.StringIO(text))


def read_roster(data: bytes, filename: str = "") -> tuple[list[RosterRow], list[Problem]]:
    """The rows of a roster, keyed by column, and the problems found reading it."""
    rows: list[RosterRow] = []
    problems: list[Problem] = []
    columns: dict[int, str] | None = None
    for number, cells in enumerate(_raw_rows(data, filename), start=1):
        if columns is None:
            found = _match_headings(cells)
            if set(REQUIRED) <= set(found.values()):
                columns = found
            elif number >= 10:
                break
            continue
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise DomainError(
                "too-many-rows", _("A roster has at most %(n)d rows; split the file.", n=MAX_ROWS), status=422
            )
        values: dict[str, str] = {}
        for index, key in columns.items():
            text = _text(cells[index] if index < len(cells) else None, key)
            if text is None:
                problems.append(
                    Problem(
                        number,
                        heading(key),
                        _("Stored as a number, so its last digits are lost; format the column as text."),
                    )
                )
                text = ""
            values[key] = text
        rows.append(RosterRow(number, values))
    if columns is None:
        raise DomainError(
            "missing-columns",
            _(
                "No heading row with the columns %(columns)s was found in the first 10 rows.",
                columns="、".join(heading(k) for k in REQUIRED),
            ),
            status=422,
        )
    return rows, problems


# --- checking and planning --------------------------------------------------------------------------


def _check_row(
    row: RosterRow, groups: dict[str, int], village: Village, problems: list[Problem]
) -> str | None:
    """Checks one row's cells; returns the normalized identity number, if any."""
    values = row.values
    unknown = household_services.unknown_tags(village, household_services.split_tags(values.get("tags", "")))
    if unknown:
        problems.append(
            Problem(
                row.number,
                heading("tags"),
                _(
                    "Not among this village's tags: %(tags)s (allowed: %(allowed)s).",
                    tags="、".join(unknown),
                    allowed="、".join(village.tag_list),
                ),
            )
        )
    for key in REQUIRED:
        if not values.get(key):
            problems.append(Problem(row.number, heading(key), _("Required.")))
    for key, value in values.items():
        # Only the address may hold several lines (a cell typed with Alt+Enter), as in the API.
        multiline = key == "address"
        if has_control(value, multiline):
            problems.append(Problem(row.number, heading(key), str(control_message(multiline))))
    for key, limit in LIMITS.items():
        if len(values.get(key, "")) > limit:
            problems.append(Problem(row.number, heading(key), _("At most %(n)d characters.", n=limit)))
    group = values.get("group", "")
    if group and group not in groups:
        problems.append(
            Problem(row.number, heading("group"), _("No group named %(name)s in this village.", name=group))
        )
    phone = normalize_phone(values.get("phone", ""))
    values["phone"] = phone
    if phone and not is_mobile(phone):
        problems.append(
            Problem(row.number, heading("phone"), _("A mobile number: 11 digits starting with 13 to 19."))
        )
    number = identity.normalize(values.get("id_number", ""))
    if number and not identity.is_valid(number):
        problems.append(
            Problem(
                row.number, heading("id_number"), _("Not a valid identity number (check the last digit).")
            )
        )
        return None
    return number or None


def _check_township(
    row: RosterRow, village: Village, township: Region | None, problems: list[Problem]
) -> None:
    """A row naming a township must name the village's: a roster of another township is the wrong file."""
    named = row.values.get("township", "")
    if not named or (township is not None and named == township.name):
        return
    if township is None:
        message = _("%(village)s is not placed in a township yet.", village=village.name)
    else:
        message = _("%(village)s is in %(township)s.", village=village.name, township=township.name)
    problems.append(Problem(row.number, heading("township"), message))


def plan_import(village: Village, rows: list[RosterRow], problems: list[Problem]) -> Plan:
    """Check every row and work out what an import would write; writes nothing."""
    plan = Plan(village_id=village.id, rows=len(rows), problems=problems)
    groups = dict(
        db.session.execute(
            select(VillageGroup.name, VillageGroup.id).where(VillageGroup.village_id == village.id)
        ).all()
    )
    township = db.session.get(Region, village.region_id) if village.region_id is not None else None
    by_key: dict[tuple[str, str, str], PlannedHousehold] = {}
    numbers: dict[int, str] = {}
    seen_numbers: dict[str, int] = {}
    for row in rows:
        number = _check_row(row, groups, village, plan.problems)
        _check_township(row, village, township, plan.problems)
        if number:
            if number in seen_numbers:
                plan.problems.append(
                    Problem(
                        row.number,
                        heading("id_number"),
                        _(
                            "Identity number %(masked)s is also on row %(row)d.",
                            masked=identity.mask(number),
                            row=seen_numbers[number],
                        ),
                    )
                )
            else:
                seen_numbers[number] = row.number
                numbers[row.number] = number
        v = row.values
        key = (v.get("group", ""), v.get("head_name", ""), v.get("address", ""))
        household = by_key.get(key)
        if household is None:
            household = by_key[key] = PlannedHousehold(key, key[1], key[0], key[2])
        household.rows.append(row)

    # A number may be stored under any configured identity key while a rotation is under way.
    candidates = {n: identity.fingerprints(n) for n in numbers.values()}
    registered = _registered([fp for fps in candidates.values() for fp in fps])
    fingerprints = {n: next((fp for fp in fps if fp in registered), fps[0]) for n, fps in candidates.items()}
    existing = _existing_households(village.id)
    for household in by_key.values():
        _plan_household(village, household, numbers, fingerprints, registered, existing, groups, plan)
    plan.households = list(by_key.values())
    return plan


class Registration(NamedTuple):
    member_id: int
    household_id: int
    village_id: int
    head_name: str


Registered = dict[str, Registration]


def _registered(fingerprints: list[str]) -> Registered:
    """Fingerprint -> where the number is registered, for numbers already registered."""
    found: Registered = {}
    for start in range(0, len(fingerprints), 500):
        chunk = fingerprints[start : start + 500]
        for fp, member_id, household_id, village_id, head_name in db.session.execute(
            select(
                Member.id_number_hmac,
                Member.id,
                Member.household_id,
                Household.village_id,
                Household.head_name,
            )
            .join(Household, Household.id == Member.household_id)
            .where(Member.id_number_hmac.in_(chunk))
        ):
            found[fp] = Registration(member_id, household_id, village_id, head_name)
    return found


def _existing_households(village_id: int) -> dict[tuple[str, str, str], list[int]]:
    rows = db.session.execute(
        select(Household.id, VillageGroup.name, Household.head_name, Household.address)
        .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
        .where(Household.village_id == village_id, Household.active.is_(True))
    )
    result: dict[tuple[str, str, str], list[int]] = {}
    for household_id, group, head, address in rows:
        result.setdefault((group or "", head, address or ""), []).append(household_id)
    return result


def _is_head(row: RosterRow, head_name: str) -> bool:
    relation = row.values.get("relation", "").strip().lower()
    return relation in HEAD_RELATIONS or (not relation and row.values.get("name") == head_name)


def _plan_household(
    village: Village,
    household: PlannedHousehold,
    numbers: dict[int, str],
    fingerprints: dict[str, str],
    registered: Registered,
    existing: dict[tuple[str, str, str], list[int]],
    groups: dict[str, int],
    plan: Plan,
) -> None:
    first = household.rows[0].number
    head_rows = [r for r in household.rows if _is_head(r, household.head_name)]
    head_numbers = {numbers[r.number] for r in head_rows if r.number in numbers}
    if len(head_numbers) > 1:
        plan.problems.append(
            Problem(head_rows[1].number, heading("id_number"), _("This household has two heads."))
        )
    # Find the household again: by its head's identity number, else by group, head's name and address.
    existing_id: int | None = None
    for number in head_numbers:
        hit = registered.get(fingerprints[number])
        # The head's number finds the household only if that household has the same head; otherwise
        # the number belongs to someone else's household and is reported below.
        if hit is not None and hit.village_id == village.id and hit.head_name == household.head_name:
            existing_id = hit.household_id
    if existing_id is None:
        candidates = existing.get(household.key, [])
        if len(candidates) > 1:
            plan.problems.append(
                Problem(
                    first,
                    heading("head_name"),
                    _("Several households already match this head, group and address; add the head's "
                      "identity number."),
                )
            )  # fmt: skip
        elif candidates:
            existing_id = candidates[0]
    household.existing_id = existing_id
    known_names: dict[str, int] = {}
    if existing_id is not None:
        known_names = {
            name: member_id
            for member_id, name in db.session.execute(
                select(Member.id, Member.name).where(Member.household_id == existing_id).order_by(Member.id)
            )
        }
    for row in household.rows:
        number = numbers.get(row.number)
        tags = household_services.split_tags(row.values.get("tags", ""))
        if number is not None:
            hit = registered.get(fingerprints[number])
            if hit is not None:
                if hit.household_id == existing_id:
                    household.existing_members += 1
                    if tags:
                        household.tag_updates.append((hit[0], tags))
                    continue
                plan.problems.append(
                    Problem(
                        row.number,
                        heading("id_number"),
                        _(
                            "Identity number %(masked)s is already registered to another household.",
                            masked=identity.mask(number),
                        ),
                    )
                )
                continue
        elif row.values.get("name") in known_names:
            household.existing_members += 1
            if tags:
                household.tag_updates.append((known_names[row.values.get("name", "")], tags))
            continue
        household.new_members.append(
            {
                "name": row.values.get("name", ""),
                "phone": row.values.get("phone") or None,
                "id_number": number,
                "relation": row.values.get("relation") or None,
                "tags": tags,
            }
        )
    total = household.existing_members + len(household.new_members)
    if total > MAX_MEMBERS:
        plan.problems.append(
            Problem(first, heading("name"), _("A household has at most %(n)d members.", n=MAX_MEMBERS))
        )


# --- the service ------------------------------------------------------------------------------------


def import_roster(
    actor: User,
    village_id: int,
    data: bytes,
    filename: str = "",
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Check a roster and, unless `dry_run` or it has problems, write it in one transaction.

    Returns the report {dry_run, ok, written, rows, households, households_created, ...,
    errors: [{row, column, problem}]}. A real import with problems raises DomainError
    `import-invalid` (422) carrying the same report, and writes nothing.
    """
    ensure_manages_village(actor, village_id)
    village = db.session.get(Village, village_id)
    if village is None:
        raise NotFound("not-found", _("No such village."))
    rows, problems = read_roster(data, filename)
    plan = plan_import(village, rows, problems)
    if dry_run:
        return plan.report(dry_run=True)
    if plan.problems:
        raise DomainError(
            "import-invalid",
            _("The roster has %(n)d problems; nothing was imported.", n=len(plan.problems)),
            status=422,
            report=plan.report(dry_run=False),
        )
    with transaction():
        for household in plan.households:
            if household.existing_id is None:
                household_services.create_household(
                    actor,
                    {
                        "village_id": village.id,
                        "head_name": household.head_name,
                        "group": household.group or None,
                        "address": household.address or None,
                        "members": household.new_members,
                    },
                )
            else:
                for member in household.new_members:
                    household_services.add_member(actor, household.existing_id, member)
                if household.tag_updates:
                    household_services.set_household_tags(
                        actor, household.existing_id, dict(household.tag_updates)
                    )
            if progress is not None:
                progress(len(household.rows))
    return plan.report(dry_run=False, written=True)


def template_xlsx() -> bytes:
    """An empty roster to fill in, with the identity and phone columns formatted as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "花名册"
    # A village's own roster need not name its township (the optional 乡镇 column is explained in the notes).
    keys = [key for key in COLUMNS if key != "township"]
    append_row(sheet, [heading(k) for k in keys])
    for index, key in enumerate(keys, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = 22 if key in ("id_number", "address") else 14
        if key in ("id_number", "phone"):
            # Text, so that Excel keeps all 18 characters of an identity number.
            for row in range(2, 2001):
                sheet.cell(row=row, column=index).number_format = "@"
    notes = workbook.create_sheet("填写说明")
    for line in (
        ["每行一人；村民小组、户主姓名、地址相同的行为同一户。"],
        ["必填：户主姓名、姓名。户主本人一行的“与户主关系”填“户主”。"],
        ["身份证号请以文本格式填写（18位）；同一身份证号不能出现两次。"],
        ["村民小组须与系统中的小组名称一致。重复导入同一文件不会重复登记。"],
        ["乡镇可不填；填写时须与本村所属乡镇一致。"],
        ["身份标签（可空）：如“党员、村民代表”，多个标签用、或，或；分隔，须是本村标签列表中的标签。"],
        ["One row per person; rows with the same group, head of household and address are one household."],
    ):
        append_row(notes, line)
    notes.column_dimensions["A"].width = 90
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def read_upload(stream: IO[bytes], limit: int) -> bytes:
    """An uploaded file's bytes, refusing one larger than `limit`."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DomainError("payload-too-large", _("The file is too large."), status=413)
    if not data:
        raise DomainError("empty-file", _("The file is empty."), status=422)
    return data
