"""Households, members, identity numbers (never shown or stored in plain text) and the QR card."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import zxingcpp
from PIL import Image

from merit_bank.households import services as household_services
from merit_bank.qr import qr_version
from tests.conftest import make_app
from tests.factories import auth, id_number, make_village, root_admin


def _create(client, headers, village, **overrides):
    body = {
        "village_id": village,
        "head_name": "王五",
        "group": "一组",
        "address": "一组3号",
        "members": [{"name": "王五", "phone": "13700000001", "id_number": id_number(), "relation": "户主"}],
    }
    body.update(overrides)
    return client.post("/api/v1/households", headers=headers, json=body)


def test_a_household_is_created_with_a_short_code_and_masked_identity(app, client):
    village = make_village(app)
    headers = auth(app, root_admin(app))
    number = id_number()
    response = _create(client, headers, village, members=[{"name": "王五", "id_number": number}])
    assert response.status_code == 201, response.json
    body = response.json
    assert len(body["code"]) == 6 and body["code"].isalnum() and body["code"].isupper()
    assert body["group"] == "一组"
    member = body["members"][0]
    assert member["id_number"] == number[:4] + "*" * 10 + number[-4:]
    fetched = client.get(f"/api/v1/households/{body['id']}", headers=headers).json
    assert fetched["members"][0]["id_number"] == member["id_number"]
    by_code = client.get(f"/api/v1/households/by-code/{body['code'].lower()}", headers=headers)
    assert by_code.json["id"] == body["id"]


def test_a_duplicate_identity_number_is_409_with_a_clear_message(app, client):
    village = make_village(app)
    other = make_village(app, "别村")
    headers = auth(app, root_admin(app))
    number = id_number()
    assert _create(client, headers, village, members=[{"name": "甲", "id_number": number}]).status_code == 201
    again = _create(client, headers, other, members=[{"name": "乙", "id_number": number.lower()}])
    assert again.status_code == 409
    assert again.json["type"] == "duplicate-id-number"
    assert number not in json.dumps(again.json)
    assert number[:4] in again.json["detail"]
    twice = _create(client, headers, village, members=[{"name": "丙", "id_number": id_number(7)}] * 2)
    assert twice.status_code == 409


def test_an_identity_number_with_a_wrong_check_digit_is_refused(app, client):
    village = make_village(app)
    number = id_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    response = _create(
        client, auth(app, root_admin(app)), village, members=[{"name": "丁", "id_number": wrong}]
    )
    assert response.status_code == 422
    assert "id_number" in json.dumps(response.json["errors"])


def test_members_can_be_added(app, client):
    village = make_village(app)
    headers = auth(app, root_admin(app))
    household = _create(client, headers, village).json
    response = client.post(
        f"/api/v1/households/{household['id']}/members",
        headers=headers,
        json={"name": "王小五", "relation": "子"},
    )
    assert response.status_code == 201
    assert len(client.get(f"/api/v1/households/{household['id']}", headers=headers).json["members"]) == 2


def test_identity_numbers_never_appear_in_responses_nor_in_the_sqlite_file(sqlite_url, tmp_path):
    app = make_app(sqlite_url)
    client = app.test_client()
    village = make_village(app)
    headers = auth(app, root_admin(app))
    numbers = [id_number() for _ in range(3)]
    responses = [
        _create(client, headers, village, members=[{"name": f"人{i}", "id_number": n}])
        for i, n in enumerate(numbers)
    ]
    responses.append(client.get("/api/v1/households", headers=headers))
    responses += [client.get(f"/api/v1/households/{r.json['id']}", headers=headers) for r in responses[:3]]
    responses.append(_create(client, headers, village, members=[{"name": "重", "id_number": numbers[0]}]))
    for response in responses:
        for number in numbers:
            assert number not in response.get_data(as_text=True)
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    for number in numbers:
        assert number.encode() not in raw
        assert number.encode("utf-16-le") not in raw


def test_the_card_decodes_to_a_token_the_service_accepts_and_reissue_revokes_it(app, client):
    village = make_village(app)
    headers = auth(app, root_admin(app))
    household = _create(client, headers, village).json
    png = client.get(f"/api/v1/households/{household['id']}/card.png", headers=headers)
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert "no-store" in png.headers["Cache-Control"]
    path = Path(app.instance_path).parent / "card-test.png"
    from io import BytesIO

    results = zxingcpp.read_barcodes(Image.open(BytesIO(png.data)))
    assert len(results) == 1
    token = results[0].text
    assert results[0].ec_level in ("M", "Q", "H")
    with app.app_context():
        assert household_services.household_from_card(token).id == household["id"]
        assert qr_version(token) <= 6
    svg = client.get(f"/api/v1/households/{household['id']}/card.svg", headers=headers)
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert not path.exists()

    reissued = client.post(f"/api/v1/households/{household['id']}/card/reissue", headers=headers)
    assert reissued.status_code == 200
    assert reissued.json["token"] != token
    with app.app_context():
        for bad in (
            token,
            token[:-1] + ("A" if token[-1] != "A" else "B"),
            "H1.1",
            "",
            "H99999.1.AAAAAAAAAAAAAAAA",
        ):
            try:
                household_services.household_from_card(bad)
            except Exception as exc:
                assert getattr(exc, "code", None) == "invalid-token"
            else:  # pragma: no cover - the assertion explains itself
                raise AssertionError(f"card token {bad!r} was accepted")
        assert household_services.household_from_card(reissued.json["token"]).id == household["id"]
