"""Signed checkpoints: making them, the public endpoints, witnesses, and catching a consistent rewrite."""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from merit_bank import create_app
from merit_bank.auth.models import User
from merit_bank.checkpoints import services as checkpoints
from merit_bank.checkpoints import signing
from merit_bank.checkpoints.models import Checkpoint
from merit_bank.extensions import db
from merit_bank.ledger import services as ledger
from merit_bank.shop import services as shop_services
from tests.browser_support import serve
from tests.checkpoints.checkpoint_helpers import post_some, rewrite_consistently, seed_village
from tests.conftest import make_app
from tests.factories import auth, id_number, make_village, root_admin

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ledger.md"


def _checkpoint(runner) -> str:
    result = runner.invoke(args=["checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output


def _public_items(client, code: str) -> list[dict]:
    response = client.get(f"/api/v1/public/villages/{code}/checkpoints")
    assert response.status_code == 200
    return response.get_json()["items"]


def test_the_checkpoint_command_signs_each_moved_head_once_and_is_idempotent(app, runner, client):
    seeded = seed_village(app)
    post_some(app, seeded, "day1")
    assert "1 new" in _checkpoint(runner)
    assert "0 new, 1 unchanged" in _checkpoint(runner)
    post_some(app, seeded, "day2")
    assert "1 new" in _checkpoint(runner)
    items = _public_items(client, seeded.code)
    assert [c["seq"] for c in items] == [4, 8]
    with app.app_context():
        head = checkpoints.chain_head(seeded.village_id)
    assert (items[-1]["seq"], items[-1]["hash"]) == head
    assert all(c["village_code"] == seeded.code for c in items)
    # `at` is ISO 8601 with an offset (Asia/Shanghai by default), kept exactly as signed.
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", c["at"]) for c in items)


def test_a_signature_verifies_with_only_the_published_key_and_one_changed_byte_is_refused(
    app, runner, client
):
    seeded = seed_village(app)
    post_some(app, seeded, "d")
    _checkpoint(runner)
    key = client.get("/api/v1/public/keys").get_json()["ed25519_public_key"]
    assert len(base64.b64decode(key)) == 32
    (item,) = _public_items(client, seeded.code)
    assert signing.verify(key, item)
    # The signed message is exactly "{village_code}|{seq}|{hash}|{at}", checked here with cryptography alone.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
        base64.b64decode(item["signature"]),
        f"{item['village_code']}|{item['seq']}|{item['hash']}|{item['at']}".encode(),
    )
    for field in ("hash", "at", "village_code"):
        changed = dict(item)
        value = item[field]
        changed[field] = value[:-1] + ("0" if value[-1] != "0" else "1")
        assert not signing.verify(key, changed), field
    assert not signing.verify(key, {**item, "seq": item["seq"] + 1})
    signature = bytearray(base64.b64decode(item["signature"]))
    signature[0] ^= 1
    assert not signing.verify(key, {**item, "signature": base64.b64encode(bytes(signature)).decode()})
    # Another deployment's key does not verify it.
    other = signing.public_key_b64(signing.development_key("another-secret"))
    assert not signing.verify(other, item)


def test_checkpoints_are_append_only_in_the_database(app, runner):
    seeded = seed_village(app)
    post_some(app, seeded, "d")
    _checkpoint(runner)
    with app.app_context():
        for sql in ("UPDATE checkpoints SET hash = 'x'", "DELETE FROM checkpoints"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(sql))
            db.session.rollback()
        assert db.session.query(Checkpoint).count() == 1


def test_a_shop_month_close_makes_a_checkpoint(app, client):
    seeded = seed_village(app)
    post_some(app, seeded, "d")
    with app.app_context():
        admin = db.session.query(User).filter_by(username="root").one()
        shop_services.close_month(admin, seeded.shop_id, "2020-01")
    items = _public_items(client, seeded.code)
    assert [c["seq"] for c in items] == [4]
    with app.app_context():
        assert db.session.query(Checkpoint).one().reason == "month_close"


def test_unknown_village_codes_are_a_404_problem(client):
    for path in ("checkpoints", "ledger.jsonl"):
        response = client.get(f"/api/v1/public/villages/NOSUCH/{path}")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
    assert client.get("/board/NOSUCH/ledger").status_code == 404


def test_the_public_endpoints_need_no_login_and_hold_no_personal_data(app, runner, client):
    seeded = seed_village(app)
    post_some(app, seeded, "d")
    _checkpoint(runner)
    code = seeded.code
    bodies = {}
    for path in (
        "/api/v1/public/keys",
        "/api/v1/public/villages",
        f"/api/v1/public/villages/{code}/checkpoints",
        f"/api/v1/public/villages/{code}/ledger.jsonl",
        f"/board/{code}/ledger",
        f"/board/{code}",
    ):
        response = client.get(path)  # no Authorization header, no cookie
        assert response.status_code == 200, path
        bodies[path] = response.get_data(as_text=True)
    assert code in bodies["/api/v1/public/villages"]
    assert len(seeded.secrets) == 9
    for path, body in bodies.items():
        for secret in seeded.secrets:
            assert secret not in body, (path, secret)
    # Nor which household owns an account: the export's accounts are opaque ids.
    for line in bodies[f"/api/v1/public/villages/{code}/ledger.jsonl"].splitlines():
        record = json.loads(line)
        assert "household_id" not in record and "key" not in record


def _audit_script():
    source = re.search(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S).group(1)
    namespace: dict = {"__name__": "audit"}
    exec(compile(source, "docs/ledger.md", "exec"), namespace)
    return namespace["audit"]


def test_the_auditor_script_recomputes_the_public_export_and_checks_remembered_checkpoints(
    app, runner, client
):
    seeded = seed_village(app)
    post_some(app, seeded, "d1")
    _checkpoint(runner)
    post_some(app, seeded, "d2")
    _checkpoint(runner)
    remembered = {"items": _public_items(client, seeded.code)}
    export = client.get(f"/api/v1/public/villages/{seeded.code}/ledger.jsonl").get_data(as_text=True)
    audit = _audit_script()
    with app.app_context():
        head = checkpoints.chain_head(seeded.village_id)[1]
    assert audit(export.splitlines()) == f"OK 8 transactions, head {head}"
    assert audit(export.splitlines(), remembered) == f"OK 8 transactions, head {head}, 2 checkpoints match"

    rewrite_consistently(app, seeded.village_id, seq=6, extra_points=100)
    rewritten = client.get(f"/api/v1/public/villages/{seeded.code}/ledger.jsonl").get_data(as_text=True)
    # Alone, the rewritten export recomputes (the documented limit); against the checkpoints it does not.
    assert audit(rewritten.splitlines()).startswith("OK 8 transactions")
    verdict = audit(rewritten.splitlines(), remembered)
    assert verdict.startswith(f"BAD: checkpoint seq 8 ({remembered['items'][1]['at']})"), verdict


def test_a_consistent_rewrite_passes_verify_ledger_alone_but_checkpoints_and_a_witness_catch_it(
    db_url, tmp_path
):
    app = make_app(db_url, UPLOAD_FOLDER=str(tmp_path / "uploads"))
    runner = app.test_cli_runner()
    store = tmp_path / "witness.json"
    seeded = seed_village(app)
    post_some(app, seeded, "d1")
    _checkpoint(runner)
    post_some(app, seeded, "d2")
    _checkpoint(runner)
    post_some(app, seeded, "d3")
    _checkpoint(runner)
    with app.app_context():
        before = {c.seq: c.hash for c in checkpoints.checkpoints_of(seeded.village_id)}
    assert sorted(before) == [4, 8, 12]
    checkpoints_file = tmp_path / "checkpoints.json"
    with serve(app) as server:
        pulled = runner.invoke(args=["witness", "pull", server.url, "--store", str(store)])
        assert pulled.exit_code == 0, pulled.output
        assert "3 checkpoints, 3 new" in pulled.output
        checkpoints_file.write_text(
            json.dumps({"items": _public_items(app.test_client(), seeded.code)}), encoding="utf-8"
        )
        ok = runner.invoke(args=["verify-ledger", "--checkpoints", server.url])
        assert ok.exit_code == 0, ok.output
        assert "passes through all 3 remembered checkpoints" in ok.output

        # The rewrite: seq 6 (an award of day 2) gets 100 more points; everything after is recomputed.
        rewrite_consistently(app, seeded.village_id, seq=6, extra_points=100)

        alone = runner.invoke(args=["verify-ledger"])
        assert alone.exit_code == 0, alone.output
        assert "Ledger OK: 12 transactions" in alone.output

        for source in (str(store), str(checkpoints_file), server.url):
            caught = runner.invoke(args=["verify-ledger", "--checkpoints", source])
            assert caught.exit_code == 1, caught.output
            # The first broken checkpoint is seq 8 (seq 4 is before the rewrite and still matches).
            assert f"checkpoint village {seeded.code} seq 8" in caught.output
            assert before[8] in caught.output
        # Only the village asked for is compared: another village's chain leaves this one alone.
        other = make_village(app, "平安村", code="PINGAN")
        limited = runner.invoke(args=["verify-ledger", "--village", str(other), "--checkpoints", str(store)])
        assert limited.exit_code == 0, limited.output
        assert "all 0 remembered checkpoints" in limited.output

        # The deployment will not sign the rewritten head: its chain no longer passes through seq 12.
        refused = runner.invoke(args=["checkpoint", "--no-verify"])
        assert refused.exit_code == 1
        assert f"REFUSED to sign village {seeded.code}" in refused.output

        # An operator who also rewrites the checkpoints table (re-signing with the key) is caught by the
        # witness, which remembers what was published before.
        _resign_checkpoints(app, seeded.village_id)
        assert runner.invoke(args=["verify-ledger", "--checkpoints", server.url]).exit_code == 0
        stored = store.read_text(encoding="utf-8")
        again = runner.invoke(args=["witness", "pull", server.url, "--store", str(store)])
        assert again.exit_code == 1, again.output
        assert f"EQUIVOCATION: village {seeded.code} seq 8" in again.output
        assert before[8] in again.output
        with app.app_context():
            assert checkpoints.chain_hashes(seeded.village_id, [8])[8] in again.output
        assert store.read_text(encoding="utf-8") == stored  # the witness's memory is left as it was
        # Both versions of seq 8 carry the deployment's valid signature: a proof anyone can check.
        (evidence_file,) = tmp_path.glob("witness.json.equivocation-*.json")
        evidence = json.loads(evidence_file.read_text(encoding="utf-8"))["items"]
        seq8 = next(e for e in evidence if e["before"]["seq"] == 8)
        assert seq8["before"]["hash"] != seq8["now"]["hash"]
        assert signing.verify(seq8["public_key"], seq8["before"]) and signing.verify(
            seq8["public_key"], seq8["now"]
        )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _resign_checkpoints(app, village_id: int) -> None:
    """The operator's next step: drop the checkpoints' triggers and sign the rewritten chain again."""
    insert = text(
        "INSERT INTO checkpoints (village_id, village_code, seq, hash, at, signature, reason, created_at) "
        "VALUES (:v, :code, :seq, :hash, :at, :sig, 'daily', CURRENT_TIMESTAMP)"
    )
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.session.execute(text("DROP TRIGGER checkpoints_no_delete"))
        else:
            db.session.execute(text("DROP TRIGGER checkpoints_append_only ON checkpoints"))
        code = db.session.execute(
            text("SELECT code FROM villages WHERE id = :v"), {"v": village_id}
        ).scalar_one()
        hashes = checkpoints.chain_hashes(village_id, [4, 8, 12])
        db.session.execute(text("DELETE FROM checkpoints"))
        key, at = checkpoints.signing_key(), "2030-01-01T00:00:00+08:00"
        for seq, hash_hex in sorted(hashes.items()):
            values = {"v": village_id, "code": code, "seq": seq, "hash": hash_hex, "at": at}
            db.session.execute(insert, {**values, "sig": signing.sign(key, code, seq, hash_hex, at)})
        db.session.commit()
        db.session.remove()


def test_verify_ledger_refuses_remembered_checkpoints_with_one_byte_changed(app, runner, client, tmp_path):
    seeded = seed_village(app)
    post_some(app, seeded, "d1")
    _checkpoint(runner)
    items = _public_items(client, seeded.code)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"items": items}), encoding="utf-8")
    assert runner.invoke(args=["verify-ledger", "--checkpoints", str(good)]).exit_code == 0
    # A forged memory (one hex digit of the hash changed) is refused on its signature, not trusted.
    forged = dict(items[0])
    forged["hash"] = forged["hash"][:-1] + ("0" if forged["hash"][-1] != "0" else "1")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"items": [forged]}), encoding="utf-8")
    result = runner.invoke(args=["verify-ledger", "--checkpoints", str(bad)])
    assert result.exit_code == 1
    assert f"BAD SIGNATURE: village {seeded.code} seq 4" in result.output


def test_a_witness_refuses_a_bad_signature_and_a_changed_public_key(db_url, tmp_path):
    app = make_app(db_url, UPLOAD_FOLDER=str(tmp_path / "uploads"))
    runner = app.test_cli_runner()
    seeded = seed_village(app)
    post_some(app, seeded, "d1")
    _checkpoint(runner)
    store = tmp_path / "w.json"
    with serve(app) as server:
        assert runner.invoke(args=["witness", "pull", server.url, "--store", str(store)]).exit_code == 0
    # The same database served under another signing key: every signature fails and the key changed.
    other_key = base64.b64encode(bytes(range(32))).decode()
    other = make_app(db_url, UPLOAD_FOLDER=str(tmp_path / "uploads"), CHECKPOINT_SIGNING_KEY=other_key)
    with serve(other) as server:
        # The witness was keyed by the first server's URL; copy its memory to this one's URL.
        memory = json.loads(store.read_text(encoding="utf-8"))
        (entry,) = memory["deployments"].values()
        memory["deployments"] = {server.url: entry}
        store.write_text(json.dumps(memory), encoding="utf-8")
        result = runner.invoke(args=["witness", "pull", server.url, "--store", str(store)])
    assert result.exit_code == 1
    assert "PUBLIC KEY CHANGED" in result.output
    assert f"BAD SIGNATURE: village {seeded.code} seq 4" in result.output
    for application in (app, other):
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_deployment_never_signs_a_head_that_does_not_pass_through_its_last_checkpoint(app, runner):
    seeded = seed_village(app)
    post_some(app, seeded, "d1")
    _checkpoint(runner)
    rewrite_consistently(app, seeded.village_id, seq=2, extra_points=5)
    post_some(app, seeded, "d2")
    result = runner.invoke(args=["checkpoint"])
    assert result.exit_code == 1
    assert f"REFUSED to sign village {seeded.code}" in result.output and "seq 4" in result.output
    with app.app_context():
        assert [c.seq for c in checkpoints.checkpoints_of(seeded.village_id)] == [4]


def test_the_public_verification_page_shows_length_head_and_checkpoints_in_chinese(app, runner, client):
    seeded = seed_village(app)
    post_some(app, seeded, "d1")
    _checkpoint(runner)
    html = client.get(f"/board/{seeded.code}/ledger").get_data(as_text=True)
    with app.app_context():
        seq, head = checkpoints.chain_head(seeded.village_id)
    assert "账本核验" in html
    assert head in html and f'data-testid="chain-length">{seq}<' in html
    assert signing.grouped(signing.fingerprint(head)) in html
    assert f"/api/v1/public/villages/{seeded.code}/ledger.jsonl" in html


def test_the_board_shows_the_latest_checkpoint_as_a_fingerprint(app, runner, client):
    seeded = seed_village(app)
    assert 'data-testid="fingerprint-none"' in client.get(f"/board/{seeded.code}").get_data(as_text=True)
    post_some(app, seeded, "d1")
    _checkpoint(runner)
    html = client.get(f"/board/{seeded.code}").get_data(as_text=True)
    (item,) = _public_items(client, seeded.code)
    fingerprint = base64.b32encode(bytes.fromhex(item["hash"])).decode()[:16]
    assert " ".join(fingerprint[i : i + 4] for i in range(0, 16, 4)) in html
    assert "第 4 笔" in html and date.fromisoformat(item["at"][:10]).isoformat() in html


def test_production_refuses_to_start_without_a_checkpoint_signing_key(db_url, tmp_path):
    secrets = {"SQLALCHEMY_DATABASE_URI": db_url, "PRODUCTION": True, "SECRET_KEY": "a" * 48}
    secrets["JWT_SECRET_KEY"] = "b" * 48
    with pytest.raises(RuntimeError, match="CHECKPOINT_SIGNING_KEY"):
        create_app(secrets)
    with pytest.raises(ValueError, match="32 raw bytes"):
        create_app({**secrets, "CHECKPOINT_SIGNING_KEY": base64.b64encode(b"short").decode()})
    key_file = tmp_path / "signing.key"
    key = base64.b64encode(bytes(range(32))).decode()
    key_file.write_text(key + "\n", encoding="utf-8")
    app = create_app({**secrets, "CHECKPOINT_SIGNING_KEY_FILE": str(key_file)})
    with app.app_context():
        assert checkpoints.public_key() == signing.public_key_b64(signing.load_private_key(key, "", "")[0])
        db.engine.dispose()


def test_without_a_configured_key_development_derives_a_stable_key_from_the_secret(app):
    with app.app_context():
        first = checkpoints.public_key()
    assert first == signing.public_key_b64(signing.development_key(app.config["SECRET_KEY"]))
    assert first != signing.public_key_b64(signing.development_key("another-secret"))


def test_a_memo_with_a_phone_or_id_number_is_refused_because_memos_are_published(app, client):
    seeded = seed_village(app)
    post_some(app, seeded, "d")
    headers = {**auth(app, root_admin(app)), "Idempotency-Key": "adj-1"}
    body = {"village_id": seeded.village_id, "household_id": seeded.households[1], "points": 2}
    for memo in ("补发积分，户主电话13912345678", f"补发积分，身份证{id_number(7)}", "身份证110101900101123"):
        response = client.post("/api/v1/ledger/adjustments", json={**body, "memo": memo}, headers=headers)
        assert response.status_code == 422, memo
        assert "memo" in response.get_json()["errors"]
    # Receipt numbers, dates and quantities are not personal numbers.
    for n, memo in enumerate(("补发 001-0000012 号小票的积分 2026-11-30 ×3", "电话 1391234567 错一位")):
        response = client.post(
            "/api/v1/ledger/adjustments",
            json={**body, "memo": memo},
            headers={**headers, "Idempotency-Key": f"ok{n}"},
        )
        assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert ledger.verify()["ok"]


def test_a_long_public_export_streams_in_pieces_that_still_recompute(app, client):
    seeded = seed_village(app)
    admin = root_admin(app)
    with app.app_context():
        for n in range(1001):  # 2002 entry rows: more than one streamed piece
            ledger.award(
                village_id=seeded.village_id, household_id=seeded.households[n % 3], council="volunteer",
                points=1, idempotency_key=f"long-{n}", actor_id=admin, memo="志愿服务每次",
            )  # fmt: skip
        head = checkpoints.chain_head(seeded.village_id)
        db.session.remove()
    response = client.get(f"/api/v1/public/villages/{seeded.code}/ledger.jsonl")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    assert _audit_script()(lines) == f"OK 1001 transactions, head {head[1]}"
