"""CLI: `import-households` (a roster from XLSX/CSV, with a progress bar), `export` (to a file) and
`refresh-summary` (fold new ledger transactions into the points summary)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..auth import policy as auth_policy
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..inputs import PLAIN_TEXT
from ..villages.models import Village
from . import exports, importer, summary
from .periods import parse_period


def _village(code: str) -> Village:
    village = db.session.scalar(select(Village).where(Village.code == code.strip().upper()))
    if village is None:
        raise click.ClickException(f"No village with code {code}.")
    return village


def _actor(username: str | None) -> User:
    query = select(User).where(User.active.is_(True), auth_policy.admins())
    if username:
        query = query.where(User.username == username)
    else:
        query = query.where(User.village_id.is_(None)).order_by(User.id)
    user = db.session.scalars(query).first()
    if user is None:
        raise click.ClickException("No such active admin; pass --as USERNAME of an admin.")
    return user


def _print_report(report: dict) -> None:
    click.echo(
        f"rows {report['rows']}, households {report['households']} "
        f"(new {report['households_created']}, already there {report['households_existing']}), "
        f"members added {report['members_added']}, already there {report['members_existing']}"
    )
    for error in report["errors"]:
        click.echo(f"  row {error['row']}, {error['column']}: {error['problem']}", err=True)


@click.command("import-households")
@click.argument("village_code", type=PLAIN_TEXT)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report problems; write nothing.")
@click.option(
    "--as",
    "username",
    type=PLAIN_TEXT,
    help="The admin the import is recorded as (default: a deployment admin).",
)
@with_appcontext
def import_households_command(village_code: str, path: Path, dry_run: bool, username: str | None) -> None:
    """Import households and members of VILLAGE_CODE from a roster (XLSX or CSV) at PATH."""
    village = _village(village_code)
    actor = _actor(username)
    data = path.read_bytes()
    try:
        check = importer.import_roster(actor, village.id, data, path.name, dry_run=True)
        if dry_run or not check["ok"]:
            _print_report(check)
            if not check["ok"]:
                raise click.ClickException(f"{len(check['errors'])} problems; nothing was imported.")
            return
        with click.progressbar(length=check["rows"], label="Importing", file=sys.stderr) as bar:
            report = importer.import_roster(actor, village.id, data, path.name, progress=bar.update)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_report(report)


@click.command("export")
@click.argument("name", type=click.Choice(sorted(exports.EXPORTS)))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--village", "village_code", type=PLAIN_TEXT, help="One village's code (default: every village)."
)
@click.option("--from", "start", type=PLAIN_TEXT, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", type=PLAIN_TEXT, help="Last day, YYYY-MM-DD.")
@click.option("--header", type=click.Choice(exports.HEADER_MODES), default="labels")
@with_appcontext
def export_command(
    name: str, path: Path, village_code: str | None, start: str | None, end: str | None, header: str
) -> None:
    """Write an export to PATH (.csv or .xlsx), streamed."""
    export = exports.EXPORTS[name]
    village_ids = [_village(village_code).id] if village_code else None
    try:
        period = parse_period(start, end) if (start or end) else None
    except DomainError as exc:
        raise click.ClickException(str(exc.errors or exc)) from exc
    if path.suffix == ".xlsx":
        with path.open("wb") as out:
            exports.xlsx_file(export, village_ids, period, header, out)
    else:
        with path.open("wb") as out:
            for chunk in exports.csv_chunks(export, village_ids, period, header):
                out.write(chunk)
    click.echo(f"wrote {path}")


@click.command("refresh-summary")
@click.option(
    "--village", "village_code", type=PLAIN_TEXT, help="One village's code (default: every village)."
)
@click.option(
    "--rebuild", is_flag=True, help="Drop the villages' summary rows and fold their whole chains again."
)
@with_appcontext
def refresh_summary_command(village_code: str | None, rebuild: bool) -> None:
    """Fold new ledger transactions into the points summary (safe to run at any time, e.g. from cron)."""
    village_ids = [_village(village_code).id] if village_code else None
    started = time.perf_counter()
    folded = summary.refresh(village_ids, rebuild=rebuild)
    count = sum(hi - lo for lo, hi in folded.values())
    click.echo(
        f"Summary refreshed: {count} transactions of {len(folded)} villages folded "
        f"in {time.perf_counter() - started:.1f} s."
    )


commands = [import_households_command, export_command, refresh_summary_command]


def seed_demo_notes(demo) -> None:
    """Point the person trying the demo at the reports."""
    demo.notes.append(
        "Reports: /reports/ (dashboard, rankings, 红黑榜, exports, roster import, printable household cards)"
    )
