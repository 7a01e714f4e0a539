"""Ledger benchmark (not a test): postings/s, balance-read latency, verification time, vs django-hordak.

    python bench/ledger.py                      # SQLite and PostgreSQL, 1 million entries
    python bench/ledger.py --db postgresql --entries 100000 --postings 500   # a quick run

PostgreSQL is reached through BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
the bench creates and drops its own databases. django-hordak comes from the `bench` extra.
Large ledgers are built with bulk inserts of valid, hash-chained transactions (the append-only triggers
permit INSERT), so verification at a million entries checks real chains.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/http.py would shadow the standard library's http package (werkzeug imports http.server).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from merit_bank import create_app  # noqa: E402
from merit_bank.database import utcnow  # noqa: E402
from merit_bank.extensions import db  # noqa: E402
from merit_bank.ledger import services as ledger  # noqa: E402
from merit_bank.ledger.hashing import format_time, request_digest, transaction_hash  # noqa: E402
from merit_bank.ledger.models import ChainHead  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CONFIG = {
    "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-that-is-long-enough-00",
}
VILLAGES = 20
HOUSEHOLDS_PER_VILLAGE = 50
BULK_VILLAGE = 900  # holds the bulk-built ledger
BULK_HOUSEHOLDS = 2000


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def pg_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def household_id(village_id: int, n: int) -> int:
    return village_id * 10_000 + n


# --- setup -----------------------------------------------------------------------------------------


def make_app(url: str):
    from flask_migrate import upgrade

    app = create_app({**CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        for v in range(1, VILLAGES + 1):
            ledger.open_village_accounts(village_id=v)
            for n in range(HOUSEHOLDS_PER_VILLAGE):
                ledger.open_household_account(village_id=v, household_id=household_id(v, n))
        ledger.open_village_accounts(village_id=BULK_VILLAGE)
        for n in range(BULK_HOUSEHOLDS):
            ledger.open_household_account(village_id=BULK_VILLAGE, household_id=household_id(BULK_VILLAGE, n))
        db.session.remove()
    return app


def bulk_fill(app, transactions: int) -> None:
    """Append `transactions` valid awards (2 entries each) to the bulk village's chain, in bulk."""
    with app.app_context():
        session = db.session
        head = session.execute(
            select(ChainHead.seq, ChainHead.head_hash, ChainHead.last_at).where(
                ChainHead.village_id == BULK_VILLAGE
            )
        ).one()
        issuing_id = session.scalar(
            text("SELECT id FROM ledger_accounts WHERE key = :k"), {"k": f"issuing:{BULK_VILLAGE}:volunteer"}
        )
        rows = session.execute(
            text("SELECT household_id, id, balance, earned_total FROM ledger_accounts WHERE village_id = :v "
                 "AND kind = 'household' ORDER BY household_id"),
            {"v": BULK_VILLAGE},
        ).all()  # fmt: skip
        households = [r[1] for r in rows]
        balances = {r[1]: r[2] for r in rows}
        earned = {r[1]: r[3] for r in rows}
        balances[issuing_id] = session.scalar(
            text("SELECT balance FROM ledger_accounts WHERE id = :i"), {"i": issuing_id}
        )
        next_tx = (session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM ledger_transactions")) or 0) + 1
        next_entry = (session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM ledger_entries")) or 0) + 1
        seq, prev = head[0], head[1]
        created = max(utcnow(), head[2]) if head[2] else utcnow()
        sqlite = db.engine.dialect.name == "sqlite"
        session.commit()

        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            tx_rows: list[tuple] = []
            entry_rows: list[tuple] = []

            def flush() -> None:
                if not tx_rows:
                    return
                if sqlite:
                    cursor.executemany(
                        "INSERT INTO ledger_transactions (id, village_id, seq, kind, idempotency_key, "
                        "request_hash, actor_id, rule_id, rule_version, reverses_id, memo, created_at, "
                        "prev_hash, hash) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(*r[:11], r[11].strftime("%Y-%m-%d %H:%M:%S.%f"), *r[12:]) for r in tx_rows],
                    )
                    cursor.executemany(
                        "INSERT INTO ledger_entries (id, transaction_id, account_id, amount, balance_after) "
                        "VALUES (?, ?, ?, ?, ?)",
                        entry_rows,
                    )
                else:
                    with cursor.copy(
                        "COPY ledger_transactions (id, village_id, seq, kind, idempotency_key, request_hash, "
                        "actor_id, rule_id, rule_version, reverses_id, memo, created_at, prev_hash, hash) "
                        "FROM STDIN"
                    ) as copy:
                        for r in tx_rows:
                            copy.write_row(r)
                    with cursor.copy(
                        "COPY ledger_entries (id, transaction_id, account_id, amount, balance_after) "
                        "FROM STDIN"
                    ) as copy:
                        for r in entry_rows:
                            copy.write_row(r)
                tx_rows.clear()
                entry_rows.clear()

            rng = random.Random(1)
            for i in range(transactions):
                account = households[i % len(households)]
                points = rng.randint(1, 20)
                seq += 1
                balances[account] += points
                balances[issuing_id] -= points
                earned[account] += points
                entries = [(issuing_id, -points, balances[issuing_id]), (account, points, balances[account])]
                key = f"bulk:{seq}"
                digest = transaction_hash(
                    village_id=BULK_VILLAGE, seq=seq, prev_hash=prev, kind="award", idempotency_key=key,
                    actor_id=None, rule_id=1, rule_version=1, reverses_id=None, memo="bulk",
                    created_at=format_time(created), entries=entries,
                )  # fmt: skip
                tx_rows.append(
                    (next_tx, BULK_VILLAGE, seq, "award", key, request_digest({"k": key}), None, 1, 1, None,
                     "bulk", created, prev, digest)
                )  # fmt: skip
                for account_id, amount, after in entries:
                    entry_rows.append((next_entry, next_tx, account_id, amount, after))
                    next_entry += 1
                next_tx += 1
                prev = digest
                if len(tx_rows) >= 20_000:
                    flush()
            flush()
            cursor.executemany(
                "UPDATE ledger_accounts SET balance = ?, earned_total = ? WHERE id = ?"
                if sqlite
                else "UPDATE ledger_accounts SET balance = %s, earned_total = %s WHERE id = %s",
                [(balances[a], earned.get(a, 0), a) for a in balances],
            )
            cursor.execute(
                "UPDATE ledger_chains SET seq = ?, head_hash = ?, last_at = ? WHERE village_id = ?"
                if sqlite
                else "UPDATE ledger_chains SET seq = %s, head_hash = %s, last_at = %s WHERE village_id = %s",
                (seq, prev, created.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else created, BULK_VILLAGE),
            )
            if not sqlite:
                # Ids were given explicitly; move the sequences past them.
                cursor.execute(
                    "SELECT setval('ledger_transactions_id_seq', (SELECT MAX(id) FROM ledger_transactions))"
                )
                cursor.execute("SELECT setval('ledger_entries_id_seq', (SELECT MAX(id) FROM ledger_entries))")
                cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
        db.session.remove()


def entry_count(app) -> int:
    with app.app_context():
        n = db.session.scalar(text("SELECT COUNT(*) FROM ledger_entries"))
        db.session.remove()
        return n


# --- measurements -----------------------------------------------------------------------------------


WORKERS = "threads"  # or "processes" (--workers): forked processes, as gunicorn runs the app


def run_processes(
    threads: int, total: int, setup: Callable[[], None], post_one: Callable[[int, int], None]
) -> float:
    """Like run_threads, with forked processes: no GIL shared between the workers."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    per_worker = total // threads
    barrier = ctx.Barrier(threads + 1)
    # Each worker notes when it finished its last posting (CLOCK_MONOTONIC, the same in every process),
    # so the figure counts postings only, not the workers' exit.
    finished = ctx.Array("d", threads, lock=False)

    def worker(t: int) -> None:
        setup()
        barrier.wait()
        for i in range(per_worker):
            post_one(t, i)
        finished[t] = time.perf_counter()

    pool = [ctx.Process(target=worker, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    for p in pool:
        p.join()
    if any(p.exitcode for p in pool):
        raise RuntimeError("a benchmark worker failed")
    return per_worker * threads / (max(finished) - start)


def run_threads(app, threads: int, total: int, post_one: Callable[[int, int], None]) -> float:
    """Postings per second: `threads` workers share `total` postings; post_one(thread, i) posts one."""
    if WORKERS == "processes" and threads > 1:
        with app.app_context():
            db.engine.dispose()

        def setup() -> None:
            ctx = app.app_context()
            ctx.push()
            db.engine.dispose(close=False)
            # Connect before the clock starts, as a long-running worker already has its connection.
            db.session.execute(text("SELECT 1"))
            db.session.remove()

        return run_processes(threads, total, setup, post_one)
    per_thread = total // threads
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                for i in range(per_thread):
                    post_one(t, i)
            except BaseException as exc:  # reported after the run
                errors.append(exc)
            finally:
                db.session.remove()

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    for p in pool:
        p.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return per_thread * threads / elapsed


_run_id = iter(range(1, 1_000_000))


def postings_per_second(app, threads: int, total: int, spread: bool) -> float:
    run = next(_run_id)

    def post_one(t: int, i: int) -> None:
        village = ((t * 7 + i) % VILLAGES) + 1 if spread else 1
        ledger.award(
            village_id=village,
            household_id=household_id(village, (t * 13 + i) % HOUSEHOLDS_PER_VILLAGE),
            council="volunteer",
            points=1,
            idempotency_key=f"bench:{run}:{t}:{i}",
            actor_id=1,
            rule_id=1,
            rule_version=1,
            memo="bench",
        )

    return run_threads(app, threads, total, post_one)


def read_latency(app, reads: int = 3000) -> tuple[float, float]:
    """p50 and p99 (ms) of household_balance() on random households of the bulk village."""
    rng = random.Random(2)
    samples = []
    with app.app_context():
        for _ in range(reads):
            h = household_id(BULK_VILLAGE, rng.randrange(BULK_HOUSEHOLDS))
            start = time.perf_counter()
            ledger.household_balance(h)
            samples.append((time.perf_counter() - start) * 1000)
            db.session.rollback()  # one read per request, as in the app
        db.session.remove()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def verify_seconds(app) -> tuple[float, dict]:
    with app.app_context():
        start = time.perf_counter()
        result = ledger.verify()
        elapsed = time.perf_counter() - start
        db.session.remove()
    return elapsed, result


# --- django-hordak ----------------------------------------------------------------------------------


def hordak_postings_per_second(db_name: str, counts: list[tuple[int, int]]) -> dict[int, float]:
    """The same workload (award 1 point: issuing -> household, atomically) through django-hordak."""
    import django
    from django.conf import settings

    admin = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_URL)
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "mptt", "djmoney", "hordak"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": db_name,
                "HOST": admin.get("host", "127.0.0.1"),
                "PORT": admin.get("port", "5432"),
                "USER": admin.get("user", "postgres"),
                "PASSWORD": admin.get("password", ""),
            }
        },
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HORDAK_CURRENCIES=["EUR"],
        CURRENCIES=["EUR"],
    )
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db import transaction as dj_transaction
    from djmoney.money import Money
    from hordak.models import Account

    call_command("migrate", verbosity=0)
    issuing = Account.objects.create(name="issuing", code="1", type=Account.TYPES.income, currencies=["EUR"])
    households = [
        Account.objects.create(
            name=f"h{n}", code=f"2{n:03d}", type=Account.TYPES.liability, currencies=["EUR"]
        )
        for n in range(HOUSEHOLDS_PER_VILLAGE)
    ]
    connection.close()
    results = {}
    for threads, total in counts:
        per_thread = total // threads
        if WORKERS == "processes" and threads > 1:

            def post_one(t: int, i: int) -> None:
                with dj_transaction.atomic():
                    issuing.transfer_to(
                        households[(t * 13 + i) % len(households)], Money(1, "EUR"), description="bench"
                    )

            connection.close()
            results[threads] = run_processes(threads, total, connection.close, post_one)
            continue
        barrier = threading.Barrier(threads + 1)

        def worker(t: int, barrier: threading.Barrier = barrier, per_thread: int = per_thread) -> None:
            from django.db import connection as thread_connection

            barrier.wait()
            for i in range(per_thread):
                with dj_transaction.atomic():
                    issuing.transfer_to(
                        households[(t * 13 + i) % len(households)], Money(1, "EUR"), description="bench"
                    )
            thread_connection.close()

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for p in pool:
            p.start()
        barrier.wait()
        start = time.perf_counter()
        for p in pool:
            p.join()
        results[threads] = per_thread * threads / (time.perf_counter() - start)
    return results


# --- main -------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    with psycopg.connect(PG_ADMIN_URL) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {pg}"
    )


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_database(kind: str, args) -> dict:
    print(f"\n== {kind} == ({load()})", flush=True)
    tmp = tempfile.mkdtemp(prefix="mb-bench-")
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/bench.sqlite3"
    else:
        pg_exec("DROP DATABASE IF EXISTS mb_bench WITH (FORCE)")
        pg_exec("CREATE DATABASE mb_bench")
        url = pg_url("mb_bench")
    app = make_app(url)
    out: dict = {}
    try:
        bulk_fill(app, 5000)  # 10 thousand entries
        out["read_10k"] = read_latency(app)
        print(f"balance read at {entry_count(app):,} entries: p50 {out['read_10k'][0]:.3f} ms, "
              f"p99 {out['read_10k'][1]:.3f} ms", flush=True)  # fmt: skip
        for threads in (1, 8):
            for spread in (False, True):
                rate = postings_per_second(app, threads, args.postings, spread)
                out[("post", threads, spread)] = rate
                where = f"spread over {VILLAGES} villages" if spread else "one village"
                print(f"postings/s, {threads} thread(s), {where}: {rate:,.0f}", flush=True)
        remaining = max(0, args.entries - entry_count(app)) // 2
        start = time.perf_counter()
        bulk_fill(app, remaining)
        entries = entry_count(app)
        print(f"bulk-built to {entries:,} entries in {time.perf_counter() - start:.0f} s", flush=True)
        out["entries"] = entries
        out["read_big"] = read_latency(app)
        print(f"balance read at {entries:,} entries: p50 {out['read_big'][0]:.3f} ms, "
              f"p99 {out['read_big'][1]:.3f} ms", flush=True)  # fmt: skip
        seconds, result = verify_seconds(app)
        out["verify"] = seconds
        per_million = seconds / entries * 1e6
        print(f"verification of {entries:,} entries ({result.get('transactions')} transactions): "
              f"{seconds:.1f} s, ok={result['ok']} ({per_million:.1f} s/million)", flush=True)  # fmt: skip
        assert result["ok"], result
        print(f"({load()})", flush=True)
    finally:
        with app.app_context():
            db.engine.dispose()
        if kind == "postgresql":
            pg_exec("DROP DATABASE IF EXISTS mb_bench WITH (FORCE)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--postings", type=int, default=2000, help="postings per throughput measurement")
    parser.add_argument("--no-hordak", action="store_true")
    parser.add_argument(
        "--workers", choices=["threads", "processes"], default="processes",
        help="how the 8 concurrent workers run (processes: like gunicorn workers, no shared GIL)",
    )  # fmt: skip
    args = parser.parse_args()
    global WORKERS
    WORKERS = args.workers
    print("workers:", WORKERS, flush=True)
    print("machine:", machine(), flush=True)
    results = {}
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        results[kind] = bench_database(kind, args)
    if "postgresql" in results and not args.no_hordak:
        print(f"\n== django-hordak on the same PostgreSQL == ({load()})", flush=True)
        pg_exec("DROP DATABASE IF EXISTS hordak_bench WITH (FORCE)")
        pg_exec("CREATE DATABASE hordak_bench")
        try:
            theirs = hordak_postings_per_second("hordak_bench", [(1, args.postings), (8, args.postings)])
        finally:
            pg_exec("DROP DATABASE IF EXISTS hordak_bench WITH (FORCE)")
        ours = results["postgresql"]
        for threads in (1, 8):
            print(f"hordak postings/s, {threads} thread(s): {theirs[threads]:,.0f}; ours/theirs: "
                  f"one village {ours[('post', threads, False)] / theirs[threads]:.2f}x, "
                  f"spread {ours[('post', threads, True)] / theirs[threads]:.2f}x", flush=True)  # fmt: skip
        print(f"({load()})", flush=True)


if __name__ == "__main__":
    main()
