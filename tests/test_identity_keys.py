"""Identity-number keys: a keyring with key ids, `rotate-keys`, retiring old keys (issue #10, finding 13)."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from sqlalchemy import select

from merit_bank.extensions import db
from merit_bank.households import identity
from merit_bank.households.models import Member
from tests.conftest import app_for
from tests.factories import auth, id_number, make_household, make_village, root_admin

# Fixed keys: test ids derive from them, and pytest-xdist workers must all collect the same ids.
KEY_1 = base64.urlsafe_b64encode(bytes(range(32))).decode()
KEY_2 = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()


def _stored(app: Flask) -> list[tuple[int, int | None, str, str]]:
    """(member id, key id, ciphertext, hash) of every stored identity number, read straight from the table."""
    with app.app_context():
        rows = db.session.execute(
            select(Member.id, Member.id_number_key_id, Member.id_number_encrypted, Member.id_number_hmac)
            .where(Member.id_number_encrypted.is_not(None))
            .order_by(Member.id)
        ).all()
        return [tuple(row) for row in rows]


def _households_with_numbers(app: Flask, count: int) -> dict[int, str]:
    """Households (made through the service) whose head has an identity number; household id -> number."""
    village_id = make_village(app)
    made = {}
    for n in range(count):
        number = id_number()
        household = make_household(
            app,
            village_id,
            head_name=f"户主{n}",
            members=[{"name": f"户主{n}", "id_number": number, "relation": "户主"}, {"name": "家属"}],
        )
        made[household["id"]] = number
    return made


def _fernet_of(key: str) -> Fernet:
    return identity.parse_keyring(f"9:{key}", "unused").current.fernet


def test_after_rotate_keys_and_retiring_the_old_key_every_identity_number_reads_back_and_none_is_under_it(
    db_url,
):
    with app_for(db_url, IDENTITY_KEYS=f"1:{KEY_1}") as old:
        numbers = _households_with_numbers(old, 5)
        assert {key_id for _, key_id, _, _ in _stored(old)} == {1}

    with app_for(db_url, IDENTITY_KEYS=f"2:{KEY_2},1:{KEY_1}") as rotating:
        result = rotating.test_cli_runner().invoke(args=["rotate-keys", "--batch-size", "2"])
        assert result.exit_code == 0, result.output
        assert "5 re-encrypted" in result.output
        again = rotating.test_cli_runner().invoke(args=["rotate-keys"])
        assert again.exit_code == 0, again.output
        assert "0 re-encrypted, 5 already current" in again.output

    # Key 1 retired, and SECRET_KEY changed too: with IDENTITY_KEYS set the numbers no longer depend on it.
    with app_for(
        db_url, IDENTITY_KEYS=f"2:{KEY_2}", SECRET_KEY="another-secret-key-entirely-0123456789"
    ) as new:
        client = new.test_client()
        headers = auth(new, root_admin(new))
        for household_id, number in numbers.items():
            body = client.get(f"/api/v1/households/{household_id}", headers=headers).get_json()
            assert body["members"][0]["id_number"] == identity.mask(number)
        stored = _stored(new)
        assert len(stored) == len(numbers)
        with new.app_context():
            assert sorted(identity.decrypt(token, key_id) for _, key_id, token, _ in stored) == sorted(
                numbers.values()
            )
            # The lookup hash moved with the key: a number registered again is still found.
            for number in numbers.values():
                assert db.session.scalar(
                    select(Member.id).where(Member.id_number_hmac.in_(identity.fingerprints(number)))
                )
        for _, key_id, token, _ in stored:
            assert key_id == 2
            assert _fernet_of(KEY_2).decrypt(token.encode())
            with pytest.raises(InvalidToken):
                _fernet_of(KEY_1).decrypt(token.encode())
        duplicate = client.post(
            "/api/v1/households",
            headers=headers,
            json={
                "village_id": make_village(new),
                "head_name": "冒名",
                "members": [{"name": "冒名", "id_number": next(iter(numbers.values()))}],
            },
        )
        assert duplicate.status_code == 409, duplicate.get_json()
        assert duplicate.get_json()["type"].endswith("duplicate-id-number")


def test_a_number_under_a_key_id_no_longer_configured_fails_loudly_naming_that_key_id(db_url):
    with app_for(db_url, IDENTITY_KEYS=f"1:{KEY_1}") as old:
        _households_with_numbers(old, 2)
    with app_for(db_url, IDENTITY_KEYS=f"2:{KEY_2}") as new:
        _, key_id, token, _ = _stored(new)[0]
        with new.app_context(), pytest.raises(identity.UnknownIdentityKey, match="key id 1"):
            identity.decrypt(token, key_id)
        result = new.test_cli_runner().invoke(args=["rotate-keys"])
        assert result.exit_code == 1
        assert "key id 1" in result.output
        assert {k for _, k, _, _ in _stored(new)} == {1}, "nothing may be rewritten from a failed decryption"


def test_lookups_find_numbers_under_either_key_while_a_rotation_is_half_done(db_url):
    with app_for(db_url, IDENTITY_KEYS=f"1:{KEY_1}") as old:
        numbers = _households_with_numbers(old, 1)
    with app_for(db_url, IDENTITY_KEYS=f"2:{KEY_2},1:{KEY_1}") as both:
        client = both.test_client()
        response = client.post(
            "/api/v1/households",
            headers=auth(both, root_admin(both)),
            json={
                "village_id": make_village(both),
                "head_name": "重复",
                "members": [{"name": "重复", "id_number": next(iter(numbers.values()))}],
            },
        )
        assert response.status_code == 409
        assert response.get_json()["type"].endswith("duplicate-id-number")


def test_without_identity_keys_numbers_stay_under_the_secret_key_derived_key_0_and_can_move_off_it(db_url):
    with app_for(db_url) as legacy:
        numbers = _households_with_numbers(legacy, 2)
        assert {k for _, k, _, _ in _stored(legacy)} == {0}
    with app_for(db_url, IDENTITY_KEYS=f"1:{KEY_1},0") as moving:
        result = moving.test_cli_runner().invoke(args=["rotate-keys"])
        assert result.exit_code == 0, result.output
    with (
        app_for(
            db_url, IDENTITY_KEYS=f"1:{KEY_1}", SECRET_KEY="a-new-secret-key-after-a-leak-0123456789"
        ) as new,
        new.app_context(),
    ):
        assert sorted(identity.decrypt(t, k) for _, k, t, _ in _stored(new)) == sorted(numbers.values())


def test_the_migration_marks_numbers_stored_before_it_as_key_0(db_url):
    from flask_migrate import downgrade, upgrade

    with app_for(db_url) as app:
        numbers = _households_with_numbers(app, 2)
        with app.app_context():
            downgrade(revision="0006")
            upgrade()
        stored = _stored(app)
        assert {k for _, k, _, _ in stored} == {0}
        with app.app_context():
            assert sorted(identity.decrypt(t, k) for _, k, t, _ in stored) == sorted(numbers.values())


@pytest.mark.parametrize(
    "spec, message",
    [
        ("1:not-base64!!", "key 1"),
        (f"1:{KEY_1[:20]}", "32 bytes"),
        (f"1:{KEY_1},1:{KEY_2}", "listed twice"),
        ("x:abc", "whole number"),
        ("0:abc", "`0` alone"),
        ("2:", "no key"),
    ],
)
def test_a_misconfigured_keyring_is_refused_with_a_clear_message(spec, message):
    with pytest.raises(identity.IdentityKeyError, match=message):
        identity.parse_keyring(spec, "secret")


def test_a_mistyped_identity_key_in_the_environment_stops_the_start(monkeypatch, db_url, tmp_path):
    from merit_bank import create_app

    monkeypatch.setenv("IDENTITY_KEYS", f"2:{KEY_2[:-8]}")
    with pytest.raises(identity.IdentityKeyError, match="identity key 2"):
        create_app({"SQLALCHEMY_DATABASE_URI": db_url})
    keys_file = tmp_path / "identity-keys"
    keys_file.write_text(f"# newest first\n2:{KEY_2}\n1:{KEY_1}\n")
    monkeypatch.delenv("IDENTITY_KEYS")
    monkeypatch.setenv("IDENTITY_KEYS_FILE", str(keys_file))
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url})
    with app.app_context():
        assert identity.keyring().key_ids == [2, 1]
        db.engine.dispose()


def test_a_roster_import_finds_members_stored_under_the_old_key_while_a_rotation_is_under_way(db_url):
    import io

    from openpyxl import Workbook

    number = id_number()
    workbook = Workbook()
    workbook.active.append(["村民小组", "户主姓名", "地址", "姓名", "与户主关系", "身份证号"])
    workbook.active.append(["一组", "孙大伟", "幸福村一组8号", "孙大伟", "户主", number])
    roster = io.BytesIO()
    workbook.save(roster)

    def import_roster(app: Flask, village_id: int) -> dict:
        response = app.test_client().post(
            f"/api/v1/households/import?village_id={village_id}&dry_run=0",
            data={"file": (io.BytesIO(roster.getvalue()), "roster.xlsx")},
            content_type="multipart/form-data",
            headers=auth(app, root_admin(app)),
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    with app_for(db_url, IDENTITY_KEYS=f"1:{KEY_1}") as old:
        village_id = make_village(old)
        assert import_roster(old, village_id)["households_created"] == 1
    with app_for(db_url, IDENTITY_KEYS=f"2:{KEY_2},1:{KEY_1}") as both:
        again = import_roster(both, village_id)
        assert again["households_created"] == 0 and again["members_existing"] == 1
    assert [k for _, k, _, _ in _stored(both)] == [1]
