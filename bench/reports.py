"""Reports benchmark (not a test): a county on PostgreSQL, and the time of every report and export.

    python bench/reports.py                          # 300 villages, 150,000 households, 5 million entries
    python bench/reports.py --villages 20 --households 200 --transactions 2000    # a quick run
    python bench/reports.py --keep                   # keep the database (mb_bench_reports) afterwards
    python bench/reports.py --reuse                  # time again on a kept database, without rebuilding
    python bench/reports.py --county --keep          # only the county comparison: ledger, then summary

The dataset is one year (2025, Asia/Shanghai) of a county. It is built with COPY, respecting the
ledger's invariants: every transaction balances, balance_after runs per account, cached balances and
earned totals equal the sum of entries, each village's hash chain is valid (verify() passes), no
spending overdraws a household. Redemptions (with lines and stock movements), claims with their review
action, events and check-ins are built alongside so the non-point reports have data too.

PostgreSQL is reached through BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# bench/http.py would shadow the standard library's http package (werkzeug imports http.server).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from flask_jwt_extended import create_access_token  # noqa: E402
from sqlalchemy import text  # noqa: E402

from merit_bank import create_app  # noqa: E402
from merit_bank.auth import services as auth_services  # noqa: E402
from merit_bank.auth.models import User  # noqa: E402
from merit_bank.extensions import db  # noqa: E402
from merit_bank.ledger.hashing import format_time, transaction_hash  # noqa: E402
from merit_bank.ledger.models import COUNCILS, GENESIS_HASH  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "mb_bench_reports"
CONFIG = {
    "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-that-is-long-enough-00",
}
ZONE = ZoneInfo("Asia/Shanghai")
YEAR = 2025
GROUPS = 5
ITEMS = (("大米", "袋", 20), ("食用油", "桶", 30), ("食盐", "包", 2))
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "建国德明志强长顺永福国庆春生宝山德胜海涛立新有财秀英桂兰美华玉梅淑芬丽娟翠花"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
AWARD_COUNCILS = (
    "volunteer",
    "volunteer",
    "wedding_funeral",
    "villagers_council",
    "moral_review",
    "anti_drug_gambling",
)
RULE_POINTS = {
    "volunteer": 5,
    "covenant": -5,
    "wedding_funeral": 3,
    "villagers_council": 3,
    "moral_review": 4,
    "anti_drug_gambling": 4,
}


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def pg_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def household_code(n: int) -> str:
    value = n + 31**5  # six characters for every id
    chars = []
    while value:
        value, digit = divmod(value, 31)
        chars.append(CODE_ALPHABET[digit])
    return "".join(reversed(chars))[-6:].rjust(6, "2")


# --- building the dataset ---------------------------------------------------------------------------


class Tables:
    """One CSV file per table, written while simulating and then COPYed in."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, Any] = {}
        self.writers: dict[str, Any] = {}
        self.columns: dict[str, tuple[str, ...]] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: str, columns: tuple[str, ...]) -> None:
        handle = (self.folder / f"{table}.csv").open("w", newline="", encoding="utf-8")
        self.files[table] = handle
        self.writers[table] = csv.writer(handle)
        self.columns[table] = columns
        self.counts[table] = 0

    def row(self, table: str, values: tuple[Any, ...]) -> None:
        self.writers[table].writerow(["\\N" if v is None else v for v in values])
        self.counts[table] += 1

    def copy_all(self, conn: psycopg.Connection, order: list[str]) -> None:
        for handle in self.files.values():
            handle.close()
        with conn.cursor() as cur:
            for table in order:
                columns = ", ".join(self.columns[table])
                started = time.perf_counter()
                statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv, NULL '\\N')"
                with cur.copy(statement) as copy, (self.folder / f"{table}.csv").open("rb") as source:
                    while block := source.read(1 << 20):
                        copy.write(block)
                took = time.perf_counter() - started
                print(f"  COPY {table:24s} {self.counts[table]:>10,d} rows  {took:6.1f} s")


def build(villages: int, households_per_village: int, transactions: int, seed: int) -> dict[str, Any]:
    """Simulate a year of the county into CSV files and COPY them into the bench database."""
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="mb_bench_reports_"))
    t = Tables(folder)
    t.add("villages", ("id", "name", "code", "point_value_fen", "publish_rankings", "created_at"))
    t.add("village_groups", ("id", "village_id", "name"))
    t.add(
        "households",
        (
            "id",
            "village_id",
            "code",
            "head_name",
            "group_id",
            "address",
            "card_version",
            "active",
            "created_at",
        ),
    )
    t.add("members", ("id", "household_id", "name", "phone", "relation", "created_at"))
    t.add("shops", ("id", "village_id", "name", "active", "created_at"))
    t.add(
        "shop_items",
        ("id", "shop_id", "name", "unit", "price_points", "stock", "active", "created_at", "updated_at"),
    )
    t.add(
        "shop_stock_movements",
        (
            "id",
            "item_id",
            "shop_id",
            "kind",
            "quantity",
            "stock_after",
            "redemption_id",
            "note",
            "actor_id",
            "created_at",
        ),
    )
    t.add(
        "rules",
        (
            "id",
            "village_id",
            "version",
            "active",
            "created_by_id",
            "created_at",
            "updated_at",
            "code",
            "name",
            "council",
            "points",
            "unit",
            "needs_review",
            "notice_days",
            "approvals_required",
        ),
    )
    t.add(
        "rule_versions",
        (
            "id",
            "rule_id",
            "version",
            "created_by_id",
            "created_at",
            "code",
            "name",
            "council",
            "points",
            "unit",
            "needs_review",
            "notice_days",
            "approvals_required",
        ),
    )
    t.add(
        "ledger_accounts",
        (
            "id",
            "key",
            "kind",
            "village_id",
            "household_id",
            "shop_id",
            "council",
            "balance",
            "earned_total",
            "created_at",
        ),
    )
    t.add("ledger_chains", ("village_id", "seq", "head_hash", "last_at"))
    t.add(
        "ledger_transactions",
        (
            "id",
            "village_id",
            "seq",
            "kind",
            "idempotency_key",
            "request_hash",
            "actor_id",
            "rule_id",
            "rule_version",
            "reverses_id",
            "memo",
            "created_at",
            "prev_hash",
            "hash",
        ),
    )
    t.add("ledger_entries", ("id", "transaction_id", "account_id", "amount", "balance_after"))
    t.add(
        "shop_redemptions",
        (
            "id",
            "shop_id",
            "village_id",
            "household_id",
            "idempotency_key",
            "request_hash",
            "total_points",
            "balance_after",
            "transaction_id",
            "month",
            "actor_id",
            "created_at",
        ),
    )
    t.add(
        "shop_redemption_lines",
        ("id", "redemption_id", "item_id", "name", "unit", "price_points", "quantity", "points"),
    )
    t.add(
        "claims",
        (
            "id",
            "village_id",
            "household_id",
            "member_id",
            "rule_id",
            "rule_version_id",
            "rule_version",
            "council",
            "quantity",
            "points",
            "note",
            "occurred_on",
            "status",
            "source",
            "created_by_id",
            "posted_at",
            "transaction_id",
            "created_at",
            "updated_at",
        ),
    )
    t.add(
        "claim_actions",
        ("id", "claim_id", "action", "actor_id", "from_status", "to_status", "comment", "created_at"),
    )
    t.add(
        "events",
        (
            "id",
            "village_id",
            "title",
            "rule_id",
            "starts_at",
            "ends_at",
            "location",
            "rotating",
            "created_by",
            "created_at",
        ),
    )
    t.add(
        "event_checkins",
        ("id", "event_id", "member_id", "household_id", "method", "actor_id", "checked_in_at", "created_at"),
    )

    start = datetime(YEAR, 1, 1, tzinfo=ZONE).astimezone(UTC)
    seconds = int((datetime(YEAR + 1, 1, 1, tzinfo=ZONE).astimezone(UTC) - start).total_seconds())
    t0 = start - timedelta(days=30)
    actor = 1
    digest = "0" * 64
    for index, council in enumerate(COUNCILS, start=1):
        terms = (f"R-{council}", f"规则{council}", council, RULE_POINTS[council], "each", True, 0, 1)
        t.row("rules", (index, None, 1, True, actor, t0, t0, *terms))
        t.row("rule_versions", (index, index, 1, actor, t0, *terms))
    rule_of = {council: i for i, council in enumerate(COUNCILS, start=1)}

    ids = {
        "household": 0,
        "member": 0,
        "account": 0,
        "tx": 0,
        "entry": 0,
        "redemption": 0,
        "line": 0,
        "movement": 0,
        "claim": 0,
        "action": 0,
        "event": 0,
        "checkin": 0,
    }

    def next_id(name: str) -> int:
        ids[name] += 1
        return ids[name]

    per_village = transactions // villages
    for v in range(1, villages + 1):
        t.row("villages", (v, f"第{v}村", f"B{v:04d}", 10, v % 3 == 0, t0))
        for g in range(1, GROUPS + 1):
            t.row("village_groups", ((v - 1) * GROUPS + g, v, f"{g}组"))
        t.row("shops", (v, v, f"第{v}村积分超市", True, t0))
        items = []
        for k, (name, unit, price) in enumerate(ITEMS, start=1):
            item_id = (v - 1) * len(ITEMS) + k
            items.append([item_id, name, unit, price, 1_000_000])
            t.row(
                "shop_stock_movements",
                (next_id("movement"), item_id, v, "opening", 1_000_000, 1_000_000, None, "期初", actor, t0),
            )
        # key -> [id, kind, household_id, shop_id, council, balance, earned]
        accounts: dict[str, list[Any]] = {}

        def account(
            key: str,
            kind: str,
            household: int | None = None,
            shop: int | None = None,
            council: str | None = None,
            accounts: dict[str, list[Any]] = accounts,
        ) -> list[Any]:
            row = [next_id("account"), kind, household, shop, council, 0, 0]
            accounts[key] = row
            return row

        for council in COUNCILS:
            account(f"issuing:{v}:{council}", "issuing", council=council)
        account(f"suspense:{v}", "suspense")
        shop_account = account(f"shop:{v}", "shop", shop=v)
        households = []
        for _n in range(households_per_village):
            h = next_id("household")
            name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2])
            group = (v - 1) * GROUPS + rng.randint(1, GROUPS)
            t.row("households", (h, v, household_code(h), name, group, f"第{v}村{h}号", 1, True, t0))
            head = next_id("member")
            t.row("members", (head, h, name, None, "户主", t0))
            t.row("members", (next_id("member"), h, rng.choice(SURNAMES) + "氏", None, "配偶", t0))
            households.append((h, head, account(f"household:{h}", "household", household=h)))

        # Monthly events with check-ins (no points here: the ledger's awards carry the points).
        for month in range(1, 13):
            event = next_id("event")
            starts = datetime(YEAR, month, 10, 9, tzinfo=ZONE)
            t.row(
                "events",
                (
                    event,
                    v,
                    f"{month}月村民大会",
                    rule_of["villagers_council"],
                    starts,
                    starts + timedelta(hours=3),
                    "村委会",
                    False,
                    actor,
                    starts,
                ),
            )
            for h, head, _acc in rng.sample(households, min(40, len(households))):
                at = starts + timedelta(minutes=rng.randint(0, 120))
                t.row("event_checkins", (next_id("checkin"), event, head, h, "card", actor, at, at))

        times = sorted(rng.randrange(seconds) for _ in range(per_village))
        seq, prev_hash, last_at = 0, GENESIS_HASH, None
        awards: list[int] = []
        reversed_ids: set[int] = set()
        tx_info: dict[int, tuple[str, str, int]] = {}  # award tx id -> (household key, issuing key, amount)
        for offset in times:
            created = start + timedelta(seconds=offset, microseconds=rng.randrange(1_000_000))
            if last_at is not None and created <= last_at:
                created = last_at + timedelta(microseconds=1)
            h, head, hacc = rng.choice(households)
            hkey = f"household:{h}"
            roll = rng.random()
            rule_id = rule_version = reverses = None
            memo = ""
            redemption = None
            if roll < 0.10:
                council = "covenant" if rng.random() < 0.7 else "moral_review"
                points = -rng.randint(1, 3) * 5
                kind, lines = "deduction", [(hkey, points), (f"issuing:{v}:{council}", -points)]
                rule_id, rule_version, memo = rule_of[council], 1, "扣分"
            elif roll < 0.26 and hacc[5] >= 2:
                item = rng.choice([i for i in items if i[3] <= hacc[5]] or [items[2]])
                quantity = max(1, min(3, hacc[5] // item[3]))
                points = item[3] * quantity
                kind, lines = "redemption", [(hkey, -points), (f"shop:{v}", points)]
                memo = f"兑换{item[1]}"
                redemption = (item, quantity, points)
            elif roll < 0.28 and awards:
                original = rng.choice(awards)
                okey, ikey, amount = tx_info[original]
                if original in reversed_ids or accounts[okey][5] < amount:
                    continue
                reversed_ids.add(original)
                kind, lines, reverses, memo = "reversal", [(okey, -amount), (ikey, amount)], original, "更正"
            else:
                council = rng.choice(AWARD_COUNCILS)
                quantity = rng.randint(1, 3)
                points = RULE_POINTS[council] * quantity
                kind, lines = "award", [(hkey, points), (f"issuing:{v}:{council}", -points)]
                rule_id, rule_version, memo = rule_of[council], 1, "积分"
            tx = next_id("tx")
            seq += 1
            legs = []
            for key, amount in lines:
                acc = accounts[key]
                acc[5] += amount
                if acc[1] == "household" and (
                    kind == "award" or (kind == "reversal" and reverses is not None)
                ):
                    acc[6] += amount
                legs.append((acc[0], amount, acc[5]))
            key = f"bench:{tx}"
            digest_now = transaction_hash(
                village_id=v,
                seq=seq,
                prev_hash=prev_hash,
                kind=kind,
                idempotency_key=key,
                actor_id=actor,
                rule_id=rule_id,
                rule_version=rule_version,
                reverses_id=reverses,
                memo=memo,
                created_at=format_time(created),
                entries=legs,
            )
            t.row(
                "ledger_transactions",
                (
                    tx,
                    v,
                    seq,
                    kind,
                    key,
                    digest,
                    actor,
                    rule_id,
                    rule_version,
                    reverses,
                    memo,
                    created,
                    prev_hash,
                    digest_now,
                ),
            )
            for account_id, amount, after in sorted(legs):
                t.row("ledger_entries", (next_id("entry"), tx, account_id, amount, after))
            prev_hash, last_at = digest_now, created
            if kind == "award":
                awards.append(tx)
                tx_info[tx] = (hkey, lines[1][0], lines[0][1])
                if rng.random() < 0.1:
                    claim = next_id("claim")
                    filed = created - timedelta(hours=rng.randint(1, 72))
                    council = lines[1][0].rsplit(":", 1)[1]
                    t.row(
                        "claims",
                        (
                            claim,
                            v,
                            h,
                            head,
                            rule_of[council],
                            rule_of[council],
                            1,
                            council,
                            lines[0][1] // RULE_POINTS[council],
                            lines[0][1],
                            "",
                            filed.astimezone(ZONE).date(),
                            "posted",
                            "clerk",
                            actor,
                            created,
                            tx,
                            filed,
                            created,
                        ),
                    )
                    t.row(
                        "claim_actions",
                        (next_id("action"), claim, "approve", actor, "pending", "posted", "", created),
                    )
            if redemption is not None:
                item, quantity, points = redemption
                r = next_id("redemption")
                local_month = created.astimezone(ZONE).strftime("%Y-%m")
                t.row(
                    "shop_redemptions",
                    (r, v, v, h, key, digest, points, hacc[5], tx, local_month, actor, created),
                )
                t.row(
                    "shop_redemption_lines",
                    (next_id("line"), r, item[0], item[1], item[2], item[3], quantity, points),
                )
                item[4] -= quantity
                t.row(
                    "shop_stock_movements",
                    (
                        next_id("movement"),
                        item[0],
                        v,
                        "redemption",
                        -quantity,
                        item[4],
                        r,
                        "",
                        actor,
                        created,
                    ),
                )
        for item_id, name, unit, price, stock in items:
            t.row("shop_items", (item_id, v, name, unit, price, stock, True, t0, t0))
        for key, (account_id, kind, household, shop, council, balance, earned) in accounts.items():
            t.row(
                "ledger_accounts", (account_id, key, kind, v, household, shop, council, balance, earned, t0)
            )
        t.row("ledger_chains", (v, seq, prev_hash, last_at))
        del shop_account
        if v % 50 == 0:
            print(f"  simulated {v} villages, {ids['entry']:,d} entries")

    order = [
        "villages",
        "village_groups",
        "households",
        "members",
        "shops",
        "shop_items",
        "rules",
        "rule_versions",
        "ledger_accounts",
        "ledger_chains",
        "ledger_transactions",
        "ledger_entries",
        "shop_redemptions",
        "shop_redemption_lines",
        "shop_stock_movements",
        "claims",
        "claim_actions",
        "events",
        "event_checkins",
    ]
    with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME) as conn:
        # The data is consistent by construction: skip foreign-key triggers while loading.
        conn.execute("SET session_replication_role = replica")
        t.copy_all(conn, order)
        conn.execute("SET session_replication_role = origin")
        for table in order:
            if table == "ledger_chains":
                continue
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return dict(t.counts)


# --- timing -----------------------------------------------------------------------------------------


def timed(label: str, fn: Callable[[], Any], runs: int = 3) -> tuple[str, float, Any]:
    """Best of `runs` (the first run warms the caches like a real server would be)."""
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    print(f"  {label:62s} {best * 1000:9.1f} ms")
    return label, best, result


def stream_export(client, url: str, headers: dict[str, str]) -> tuple[int, int, float, float, float]:
    """Download a streamed export; returns (rows, bytes, seconds, rss growth MB, first-byte seconds)."""
    started = time.perf_counter()
    response = client.get(url, headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    rows = size = 0
    base = peak = rss_mb()
    first: float | None = None
    for n, chunk in enumerate(response.response):
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
        rows += chunk.count(b"\n")
        if n % 20 == 0:
            peak = max(peak, rss_mb())
    response.close()
    return rows, size, time.perf_counter() - started, peak - base, first or 0.0


def run_timings(app, villages: int) -> list[str]:
    lines: list[str] = []
    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "bench-admin"))
        token = create_access_token(identity=str(admin.id))
        counts = {
            name: db.session.scalar(text(f"SELECT count(*) FROM {name}"))
            for name in (
                "households",
                "ledger_transactions",
                "ledger_entries",
                "claims",
                "event_checkins",
                "shop_redemptions",
            )
        }
        village = villages // 2 or 1
        # A township of the first twentieth-or-so of the villages (300 villages: 20), for the flags.
        from merit_bank.villages.models import Region, Village

        township = Region(name="bench township", kind="township")
        db.session.add(township)
        db.session.flush()
        db.session.execute(
            db.update(Village).where(Village.id <= max(1, villages // 15)).values(region_id=township.id)
        )
        township_id = township.id
        db.session.commit()
    print("dataset:", ", ".join(f"{k} {v:,d}" for k, v in counts.items()))
    lines.append("Dataset: " + ", ".join(f"{v:,d} {k}" for k, v in counts.items()) + ".")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    client.set_cookie("mb_access", token)

    def get(url: str) -> Any:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.get_data()[:300])
        return response

    first_group = (village - 1) * GROUPS + 1
    rows = [("Report", "Time")]
    for label, url in (
        (
            "Village ranking, one month (API)",
            f"/api/v1/reports/rankings?village_id={village}&month={YEAR}-06",
        ),
        (
            "Village ranking, one group, one month (API)",
            f"/api/v1/reports/rankings?village_id={village}&group_id={first_group}&month={YEAR}-06",
        ),
        ("Village ranking, whole year (API)", f"/api/v1/reports/rankings?village_id={village}&year={YEAR}"),
        (
            "Village 红黑榜, one month (API)",
            f"/api/v1/reports/honor-board?village_id={village}&month={YEAR}-06",
        ),
        (
            "Village statistics, one month (API)",
            f"/api/v1/reports/stats?village_id={village}&month={YEAR}-06",
        ),
        (
            "Village dashboard page, one month (HTML, 6 charts)",
            f"/reports/?village_id={village}&month={YEAR}-06",
        ),
        (
            "Village rankings page, one month (HTML)",
            f"/reports/rankings?village_id={village}&month={YEAR}-06",
        ),
        ("County comparison, one month (API)", f"/api/v1/reports/villages?month={YEAR}-06"),
        ("County dashboard page, one month (HTML)", f"/reports/county?month={YEAR}-06"),
        ("County comparison, whole year (API)", f"/api/v1/reports/villages?year={YEAR}"),
        ("Card sheet of one village (HTML, QR codes)", f"/reports/cards?village_id={village}"),
        (
            f"Supervision flags, one township ({max(1, villages // 15)} villages), one month (API)",
            f"/api/v1/supervision/flags?region_id={township_id}&month={YEAR}-06",
        ),
        (
            "Supervision flags page, one township, one month (HTML)",
            f"/supervision/?region_id={township_id}&month={YEAR}-06",
        ),
    ):
        _label, best, _ = timed(label, lambda url=url: get(url))
        rows.append((label, f"{best * 1000:.0f} ms"))
    lines.append("")
    lines.append("| " + " | ".join(rows[0]) + " |")
    lines.append("|---|---:|")
    lines.extend(f"| {a} | {b} |" for a, b in rows[1:])

    lines.append("")
    lines.append("| Export | Rows | Size | Time | Rows/s | Memory growth |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for label, url in (
        ("Ledger, whole county, whole year, CSV", f"/api/v1/exports/ledger.csv?year={YEAR}"),
        ("Balances, whole county, whole year, CSV", f"/api/v1/exports/balances.csv?year={YEAR}"),
        ("Claims, whole county, whole year, CSV", f"/api/v1/exports/claims.csv?year={YEAR}"),
        ("Check-ins, whole county, whole year, CSV", f"/api/v1/exports/checkins.csv?year={YEAR}"),
        ("Redemptions, whole county, whole year, CSV", f"/api/v1/exports/redemptions.csv?year={YEAR}"),
        ("Settlement, whole county, whole year, CSV", f"/api/v1/exports/settlement.csv?year={YEAR}"),
        (
            "Ledger, one village, whole year, XLSX",
            f"/api/v1/exports/ledger.xlsx?village_id={village}&year={YEAR}",
        ),
        ("Balances, whole county, whole year, XLSX", f"/api/v1/exports/balances.xlsx?year={YEAR}"),
    ):
        n, size, seconds, growth, first = stream_export(client, url, headers)
        if url.split("?")[0].endswith(".xlsx"):
            n = -1
        rate = f"{(n - 1) / seconds:,.0f}" if n > 0 else "—"
        shown = f"{n - 1:,d}" if n > 0 else "—"
        print(
            f"  {label:50s} rows {shown:>10s} {size / 2**20:8.1f} MB {seconds:7.1f} s  {rate:>9s} rows/s "
            f"rss +{growth:.0f} MB, first byte {first * 1000:.0f} ms"
        )
        lines.append(
            f"| {label} | {shown} | {size / 2**20:.1f} MB | {seconds:.1f} s | {rate} | +{growth:.0f} MB |"
        )
    return lines


def star_timings(app, villages: int) -> list[str]:
    """星级文明户 of one village-year at county size: preview, publish (fixed snapshot), certificates PDF."""
    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "bench-admin"))
        token = create_access_token(identity=str(admin.id))
    village = villages // 2 or 1
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    client.set_cookie("mb_access", token)
    query = f"village_id={village}&year={YEAR}"

    def call(method: str, url: str, status: int, **kwargs: Any) -> Any:
        response = client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code == status, (url, response.status_code, response.get_data()[:300])
        return response

    rows = []
    for label, fn in (
        ("Stars preview, one village-year (API)", lambda: call("GET", f"/api/v1/reports/stars?{query}", 200)),
        ("Stars preview page, one village-year (HTML)", lambda: call("GET", f"/reports/stars?{query}", 200)),
        (
            "Stars publish, one village-year (API, a new version each run)",
            lambda: call(
                "POST",
                "/api/v1/reports/stars/publish",
                201,
                json={"village_id": village, "year": YEAR, "reason": "bench"},
            ),
        ),
        ("Stars published list (API)", lambda: call("GET", f"/api/v1/reports/stars/published?{query}", 200)),
        (
            "Star certificates of one village (PDF)",
            lambda: call("GET", f"/api/v1/reports/stars/certificates.pdf?{query}", 200),
        ),
    ):
        _label, best, _ = timed(label, fn)
        rows.append(f"| {label} | {best * 1000:.0f} ms |")
    return ["", "| 星级文明户 | Time |", "|---|---:|", *rows]


def time_participation(app, villages: int) -> list[str]:
    """Participation by member and tag (issue #15), one village, a whole year, as the village's own admin."""
    village = villages // 2 or 1
    with app.app_context():
        # The built members carry no tags: give some of this village's members 党员 (and 村干部).
        db.session.execute(
            text(
                'UPDATE members SET tags = CAST(CASE WHEN id % 10 = 0 THEN \'["党员", "村干部"]\' '
                "WHEN id % 6 = 0 THEN '[\"党员\"]' ELSE NULL END AS json) "
                "WHERE household_id IN (SELECT id FROM households WHERE village_id = :v)"
            ),
            {"v": village},
        )
        db.session.commit()
        staff = db.session.scalar(db.select(User).where(User.username == "bench-village-admin"))
        if staff is None:
            root = db.session.scalar(db.select(User).where(User.username == "bench-admin"))
            data = {"username": "bench-village-admin", "password": "bench-password-1", "role": "admin"}
            staff = auth_services.create_user(root, {**data, "village_id": village})
        token = create_access_token(identity=str(staff.id))
    client = app.test_client()
    client.set_cookie("mb_access", token)
    headers = {"Authorization": f"Bearer {token}"}
    year = f"village_id={village}&year={YEAR}"
    rows = []
    for label, url in (
        ("Participation by tag, whole year (API)", f"/api/v1/reports/participation?{year}"),
        ("Participation of 党员, whole year (API)", f"/api/v1/reports/participation?{year}&tag=党员"),
        ("Member rankings, whole year (API)", f"/api/v1/reports/member-rankings?{year}"),
        ("党员积分, whole year (API)", f"/api/v1/reports/party-members?{year}"),
        ("Participation page, whole year (HTML)", f"/reports/participation?{year}"),
        ("党员积分 print page, whole year (HTML)", f"/reports/party-members?{year}"),
        ("Participation export, whole year (XLSX)", f"/api/v1/exports/members/participation.xlsx?{year}"),
    ):

        def get(url: str = url) -> Any:
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code, response.get_data()[:300])
            return response

        _label, best, _ = timed(label, get)
        rows.append(f"| {label} | {best * 1000:.0f} ms |")
    return ["", "| Participation (one village-year) | Time |", "|---|---:|", *rows]


def hardware() -> str:
    """The CPU, its cores, the memory and PostgreSQL's version, for the record."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory = int(f.readline().split()[1]) / 2**20
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GB RAM, PostgreSQL {server}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start"
    )


def run_county_timings(app, runs: int) -> list[str]:
    """The county comparison before (ledger entries) and after (the summary), and the summary's upkeep."""
    from merit_bank.ledger import services as ledger
    from merit_bank.reports import summary

    lines: list[str] = []
    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "bench-admin"))
        token = create_access_token(identity=str(admin.id))
        counts = {
            name: db.session.scalar(text(f"SELECT count(*) FROM {name}"))
            for name in ("villages", "households", "ledger_transactions", "ledger_entries")
        }
        folded = db.session.scalar(text("SELECT count(*) FROM summary_marks"))
    print("dataset:", ", ".join(f"{k} {v:,d}" for k, v in counts.items()))
    lines.append("Dataset: " + ", ".join(f"{v:,d} {k}" for k, v in counts.items()) + ".")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()

    def get(url: str) -> Any:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.get_data()[:300])
        return response.get_json()

    month, year = f"/api/v1/reports/villages?month={YEAR}-06", f"/api/v1/reports/villages?year={YEAR}"
    app.config["REPORTS_FROM_SUMMARY"] = False
    before = {}
    for label, url in (("month", month), ("year", year)):
        _l, before[label], _r = timed(
            f"county comparison, one {label}, from the ledger", lambda u=url: get(u), runs
        )
    app.config["REPORTS_FROM_SUMMARY"] = True
    with app.app_context():
        if folded:  # a kept database: empty the summary to time its first build again
            for table in (
                "summary_marks",
                "village_month_summary",
                "household_month_summary",
                "household_year_summary",
            ):
                db.session.execute(text(f"TRUNCATE {table}"))
            db.session.commit()
        started = time.perf_counter()
        built = summary.refresh()
        build_s = time.perf_counter() - started
        rows = {
            name: db.session.scalar(text(f"SELECT count(*) FROM {name}"))
            for name in ("village_month_summary", "household_month_summary", "household_year_summary")
        }
    print(f"  summary built in {build_s:.1f} s: {len(built)} villages, {rows}")
    after = {}
    for label, url in (("month", month), ("year", year)):
        _l, after[label], _r = timed(
            f"county comparison, one {label}, from the summary", lambda u=url: get(u), runs
        )
    app.config["REPORTS_FROM_SUMMARY"] = False
    ledger_month, ledger_year = get(month), get(year)
    app.config["REPORTS_FROM_SUMMARY"] = True
    same = ledger_month == get(month) and ledger_year == get(year)
    print(f"  summary and ledger give the same bodies: {same}")

    # Every village posts once, then a comparison folds those 300 postings on its way.
    with app.app_context():
        households = db.session.execute(
            text("SELECT DISTINCT ON (village_id) village_id, id FROM households ORDER BY village_id, id")
        ).all()
        stamp = int(time.time())
        for village_id, household_id in households:
            ledger.award(
                village_id=village_id,
                household_id=household_id,
                council="volunteer",
                points=1,
                idempotency_key=f"bench-summary:{stamp}:{village_id}",
                actor_id=admin.id,
            )
        db.session.remove()
    started = time.perf_counter()
    get(month)
    stale_month_s = time.perf_counter() - started
    print(f"  county comparison, one month, every village one posting behind: {stale_month_s * 1000:.0f} ms")
    with app.app_context():
        started = time.perf_counter()
        outcome = summary.verify()
        verify_s = time.perf_counter() - started
    print(f"  summary verify: ok={outcome['ok']} in {verify_s:.1f} s {outcome['problems'][:3]}")

    lines += [
        "",
        "| County comparison (API) | From the ledger (before) | From the summary (after) |",
        "|---|---:|---:|",
        f"| One month ({YEAR}-06) | {before['month'] * 1000:,.0f} ms | {after['month'] * 1000:,.0f} ms |",
        f"| Whole year ({YEAR}) | {before['year'] * 1000:,.0f} ms | {after['year'] * 1000:,.0f} ms |",
        "",
        f"Summary: first build {build_s:.1f} s ({rows['village_month_summary']:,d} village × month × council "
        f"rows, {rows['household_month_summary']:,d} household × month rows, "
        f"{rows['household_year_summary']:,d} household × year rows); one month's comparison right "
        f"after one posting in each of the {len(households)} villages (folded on the way) "
        f"{stale_month_s * 1000:,.0f} ms; summary verification {verify_s:.1f} s (ok: {outcome['ok']}); "
        f"same response bodies from both: {same}.",
    ]
    return lines


def main() -> None:
    global DB_NAME
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--villages", type=int, default=300)
    parser.add_argument("--households", type=int, default=500, help="per village")
    # Spends a household cannot afford are skipped, so ask for a little over 2.5 M to pass 5 M entries.
    parser.add_argument("--transactions", type=int, default=2_530_000, help="in all (two entries each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="time a kept database; do not rebuild")
    parser.add_argument("--verify", action="store_true", help="also run the ledger's verify() on the dataset")
    parser.add_argument("--database", default=DB_NAME, help=f"the bench database's name (default {DB_NAME})")
    parser.add_argument(
        "--county",
        action="store_true",
        help="time only the county comparison, before (ledger) and after (summary), and the summary's upkeep",
    )
    parser.add_argument("--runs", type=int, default=3, help="best of how many runs per report")
    args = parser.parse_args()
    DB_NAME = args.database

    print(hardware())
    app = create_app({**CONFIG, "SQLALCHEMY_DATABASE_URI": pg_url(DB_NAME)})
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    if not args.reuse:
        pg_exec(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        pg_exec(f"CREATE DATABASE {DB_NAME}")
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            auth_services.create_admin("bench-admin", "bench-password-1")
            db.session.remove()
        started = time.perf_counter()
        print("building the county ...")
        build(args.villages, args.households, args.transactions, args.seed)
        print(f"built in {time.perf_counter() - started:.0f} s")
    else:
        with app.app_context():  # a database kept by an earlier version: bring its schema up to date
            from flask_migrate import upgrade

            upgrade()
            db.session.remove()
    try:
        if args.verify:
            with app.app_context():
                from merit_bank.ledger import services as ledger

                started = time.perf_counter()
                result = ledger.verify()
                print(
                    f"verify: ok={result['ok']} in {time.perf_counter() - started:.0f} s "
                    f"{'' if result['ok'] else result}"
                )
        lines = run_county_timings(app, args.runs) if args.county else run_timings(app, args.villages)
        lines += star_timings(app, args.villages) + time_participation(app, args.villages)
        print("\n".join(lines))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if not args.keep:
            pg_exec(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
