"""HTTP benchmark (not a test): the service under gunicorn on PostgreSQL against a minimal Flask ceiling.

    python bench/http.py                         # defaults: 20 s a scenario, 16 client threads in 2 processes
    python bench/http.py --seconds 8 --households 1500    # a quick run

It makes its own databases (through BENCH_PG_ADMIN_URL, default postgresql://postgres@127.0.0.1:5432/postgres),
runs `gunicorn -w 2 --threads 4` for the service and for the ceiling app, seeds through the service's own API,
and drives three scenarios with a Python load client (keep-alive connections, several processes):

- redemptions at one shop (every request a new Idempotency-Key, households in turn);
- card check-ins at one event (every request a different household's card, so each one posts);
- balance reads.

The ceiling is the least a durable hot-row posting can cost through the same stack: a Flask +
Flask-SQLAlchemy app whose one route updates one balance row and inserts one entry, then commits. It is run
before and after the service (a sandwich), and each rate is printed as a ratio of the mean ceiling, since
this shared machine's speed drifts between runs. SQL statements and COMMITs per request are counted by
PostgreSQL itself: the service is started a second time with `log_statement = all` on its database only, a
fixed number of requests of each kind is sent one at a time, and the server log's lines for that database
are counted (so nothing the driver sends is missed). Beside the rates it prints the CPU each request cost
the app server's workers and PostgreSQL's processes (from /proc), which swing much less than the rates and
say what bounds them, and the ceiling's CPU per posting over each request's ("CPU ×").

Last, each write scenario runs once more as its SQL alone: the service's statements for each request are
recorded in this process (as psycopg receives them, parameters included) against a copy of the seeded
village, then replayed on a fresh copy by a minimal Flask + Flask-SQLAlchemy app under the same gunicorn
and load. Its ratio says what the statements themselves allow, apart from the service's Python.

Its last lines put the write target in CPU: with as many cores busy as each write scenario kept busy, how
much CPU (app + PostgreSQL) per request 0.5 of the ceiling would leave, beside what the service and its
statements alone cost.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is bench/http.py, as the issue names it; its folder must not shadow the standard library's http.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from http.client import HTTPConnection  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.harness import Api, Server  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICE_DB = "mb_bench_http"
CEILING_DB = "mb_bench_ceiling"
SEEDED_DB = "mb_bench_seeded"  # the village as seeded, before any timed request: the replays start from it
REPLAY_DB = "mb_bench_replay"
SECRETS = {
    "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-that-is-long-enough-00",
}
ADMIN_PASSWORD = "bench-admin-password"
WRITES = ("redemption", "card check-in")  # the write scenarios, held to ≥ 0.5 of the ceiling
MAX_REQUESTS = 100_000  # more than any scenario gets through in its seconds on this machine


def pg_url(name: str, driver: str = "postgresql+psycopg") -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", f"{driver}://") + "/" + name


def pg_exec(sql: str, dbname: str | None = None) -> list[tuple[Any, ...]]:
    url = PG_ADMIN_URL if dbname is None else pg_url(dbname, "postgresql")
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def drop_database(name: str) -> None:
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def new_database(name: str, template: str | None = None) -> None:
    """`name` made afresh: empty, or a copy of `template`."""
    drop_database(name)
    pg_exec(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))


# --- servers ---------------------------------------------------------------------------------------


CEILING_APP = '''
"""The ceiling: one durable hot-row posting per request through Flask + Flask-SQLAlchemy."""
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db = SQLAlchemy(app)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/post")
def post():
    balance = db.session.execute(
        text("UPDATE balances SET balance = balance + 1 WHERE id = 1 RETURNING balance")
    ).scalar_one()
    db.session.execute(text("INSERT INTO entries (account_id, amount) VALUES (1, 1)"))
    db.session.commit()
    return {"balance": balance}
'''


def ceiling_rate(seconds: float, clients: int) -> dict[str, Any]:
    new_database(CEILING_DB)
    pg_exec("CREATE TABLE balances (id int PRIMARY KEY, balance bigint NOT NULL)", CEILING_DB)
    pg_exec(
        "CREATE TABLE entries (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES balances,"
        " amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
        CEILING_DB,
    )
    pg_exec("INSERT INTO balances VALUES (1, 0)", CEILING_DB)
    requests: list[Request] = [("POST", "/post", None, {})] * MAX_REQUESTS
    return minimal_app_rate(CEILING_APP, CEILING_DB, {}, requests, seconds, clients)


def minimal_app_rate(
    source: str, database: str, env: dict[str, str], requests: list[Request], seconds: float, clients: int
) -> dict[str, Any]:
    """Requests/s and CPU per request of a one-module app (`source`) under the same gunicorn and load as
    the service, on `database`, which is dropped after."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bench_minimal_app.py").write_text(source)
        env = {"DATABASE_URL": pg_url(database), "PYTHONPATH": f"{folder}:{ROOT}", **env}
        with Server("bench_minimal_app:app", env) as server, CpuMeter(server) as meter:
            result = drive(server.port, requests, seconds, clients)
    drop_database(database)
    return {**result, **cpu_per_request(meter, result["count"])}


def cpu_per_request(meter: CpuMeter, count: int) -> dict[str, float]:
    return {"app_ms": 1000 * meter.app / max(count, 1), "db_ms": 1000 * meter.database / max(count, 1)}


# --- the service's statements alone ----------------------------------------------------------------

REPLAY_APP = '''
"""The service's own statements for one request, recorded as psycopg received them, run from a minimal
Flask + Flask-SQLAlchemy app: what the request's SQL costs with none of the service's Python around it."""
import os
import pickle

import psycopg
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db = SQLAlchemy(app)
with open(os.environ["RECORDED"], "rb") as handle:
    RECORDED = pickle.load(handle)
CURSORS = {"Cursor": psycopg.Cursor, "RawCursor": psycopg.RawCursor}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/replay/<int:number>")
def replay(number):
    connection = db.session.connection().connection.driver_connection
    for cursor_class, query, params, prepare in RECORDED[number]:
        cursor = CURSORS[cursor_class](connection)
        cursor.execute(query, params, prepare=prepare)
        if cursor.description:
            cursor.fetchall()
    db.session.commit()
    return {"statements": len(RECORDED[number])}
'''


def record_statements(requests: list[Request], path: Path) -> None:
    """Send `requests` through the service in this process, against a copy of the seeded village, and
    keep each one's statements as psycopg was given them (cursor class, query, parameters, prepare)."""
    from merit_bank import create_app
    from merit_bank.extensions import db

    new_database(REPLAY_DB, template=SEEDED_DB)
    app = create_app({"SQLALCHEMY_DATABASE_URI": pg_url(REPLAY_DB), **SECRETS})
    captured: list[tuple[str, Any, Any, bool | None]] = []
    recorded: list[list[tuple[str, Any, Any, bool | None]]] = []
    original = psycopg.Cursor.execute

    def execute(self, query, params=None, *, prepare=None, binary=None):  # type: ignore[no-untyped-def]
        captured.append((type(self).__name__, query, params, prepare))
        return original(self, query, params, prepare=prepare, binary=binary)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    try:
        client = app.test_client()
        for method, url, body, headers in requests:
            captured.clear()
            response = client.open(url, method=method, json=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(
                    f"recording {method} {url}: {response.status_code} {response.get_data()!r}"
                )
            recorded.append(list(captured))
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    path.write_bytes(pickle.dumps(recorded))


def replay_rate(path: Path, count: int, seconds: float, clients: int) -> dict[str, Any]:
    """Requests/s and CPU of the minimal app replaying `count` recorded requests on a fresh copy."""
    new_database(REPLAY_DB, template=SEEDED_DB)
    requests: list[Request] = [("POST", f"/replay/{n}", None, {}) for n in range(count)]
    return minimal_app_rate(REPLAY_APP, REPLAY_DB, {"RECORDED": str(path)}, requests, seconds, clients)


# --- CPU per request --------------------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str, float]]:
    """{pid: (parent pid, name, CPU seconds so far)} from /proc."""
    table = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / ticks)
    return table


class CpuMeter:
    """CPU seconds spent by the app server's workers and by PostgreSQL's processes over a `with` block.

    Rates swing with whatever else the shared machine runs; CPU per request does much less, and says what
    a request costs on each side (docs/benchmarks.md, "What bounds the write rate").
    """

    def __init__(self, server: Server) -> None:
        self.master = server.process.pid
        self.app = self.database = 0.0

    def _sample(self) -> tuple[float, float]:
        table = _process_table()
        app = sum(cpu for parent, _name, cpu in table.values() if parent == self.master)
        database = sum(cpu for _parent, name, cpu in table.values() if name.startswith("postgres"))
        return app, database

    def __enter__(self) -> CpuMeter:
        self._start = self._sample()
        return self

    def __exit__(self, *_exc: object) -> None:
        end = self._sample()
        self.app, self.database = end[0] - self._start[0], end[1] - self._start[1]


# --- load client -----------------------------------------------------------------------------------

Request = tuple[str, str, dict[str, Any] | None, dict[str, str]]


def _client_process(port: int, requests: list[Request], threads: int, stop_at: float, out) -> None:
    """Send `requests` (shared out among threads, in order) until done or until `stop_at`."""
    lock = threading.Lock()
    position = [0]
    done: list[tuple[float, int]] = []

    def worker() -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        while time.time() < stop_at:
            with lock:
                if position[0] >= len(requests):
                    break
                method, path, body, headers = requests[position[0]]
                position[0] += 1
            payload = json.dumps(body) if body is not None else None
            sent = time.perf_counter()
            try:
                conn.request(method, path, payload, {"Content-Type": "application/json", **headers})
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:
                conn.close()
                conn = HTTPConnection("127.0.0.1", port, timeout=60)
                status = 0
            with lock:
                done.append((time.perf_counter() - sent, status))
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put(done)


def drive(
    port: int, requests: list[Request], seconds: float, clients: int, processes: int = 2
) -> dict[str, Any]:
    """Requests/s over `seconds` (or until the list runs out), with latency percentiles and bad statuses."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    share = [requests[i::processes] for i in range(processes)]
    start = time.time()
    stop_at = start + seconds
    workers = [
        multiprocessing.Process(
            target=_client_process, args=(port, share[i], clients // processes, stop_at, queue)
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    results: list[tuple[float, int]] = []
    for _ in workers:
        results += queue.get()
    for worker in workers:
        worker.join()
    elapsed = time.time() - start
    latencies = sorted(latency for latency, _ in results)
    bad = [status for _, status in results if not 200 <= status < 300]
    return {
        "rate": len(results) / elapsed,
        "count": len(results),
        "bad": len(bad),
        "bad_statuses": sorted(set(bad)),
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
    }


# --- the service: seeding through its API ----------------------------------------------------------


def service_env() -> dict[str, str]:
    return {"DATABASE_URL": pg_url(SERVICE_DB), **SECRETS, "MERIT_BANK_ENV": "development"}


def make_service_database() -> None:
    new_database(SERVICE_DB)
    env = {**os.environ, **service_env(), "PYTHONPATH": str(ROOT)}
    flask = [sys.executable, "-m", "flask", "--app", "merit_bank"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*flask, "create-admin", "bench-admin", "--password", ADMIN_PASSWORD],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def seed(port: int, households: int) -> dict[str, Any]:
    """A village with a shop, an item, a rule, an event open now, and households with points, via the API."""
    api = Api(port)
    admin = api.login("bench-admin", ADMIN_PASSWORD)
    village = api.call("POST", "/villages", {"name": "压测村", "code": "BENCH", "groups": ["一组"]})["id"]
    shop = api.call("POST", "/shops", {"village_id": village, "name": "压测超市"})["id"]
    item = api.call(
        "POST", f"/shops/{shop}/items", {"name": "大米", "unit": "袋", "price_points": 1, "stock": 1_000_000}
    )["id"]
    rule = api.call(
        "POST",
        "/rules",
        {
            "code": "BENCH",
            "name": "压测活动",
            "council": "volunteer",
            "points": 1,
            "unit": "each",
            "needs_review": False,
            "notice_days": 0,
            "approvals_required": 1,
            "village_id": village,
        },
    )["id"]
    for username, role, extra in (
        ("bench-clerk", "clerk", {"councils": ["volunteer"]}),
        ("bench-keeper", "shopkeeper", {"shop_id": shop}),
    ):
        api.call(
            "POST",
            "/users",
            {"username": username, "password": ADMIN_PASSWORD, "role": role, "village_id": village, **extra},
        )
    ids: list[int] = []
    for n in range(households):
        created = api.call(
            "POST",
            "/households",
            {
                "village_id": village,
                "head_name": f"户主{n}",
                "members": [{"name": f"户主{n}", "relation": "户主"}],
            },
        )
        ids.append(created["id"])
        api.call(
            "POST",
            "/ledger/adjustments",
            {"village_id": village, "household_id": created["id"], "points": 100_000, "memo": "压测初始积分"},
            {"Idempotency-Key": f"seed-{created['id']}"},
        )
    clerk = api.login("bench-clerk", ADMIN_PASSWORD)
    now = datetime.now(UTC)
    event = api.call(
        "POST",
        "/events",
        {
            "village_id": village,
            "title": "压测活动",
            "rule_id": rule,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=6)).isoformat(),
        },
    )["id"]
    keeper = api.login("bench-keeper", ADMIN_PASSWORD)
    return {
        "village": village, "shop": shop, "item": item, "event": event, "households": ids,
        "tokens": {"admin": admin, "clerk": clerk, "keeper": keeper},
    }  # fmt: skip


def card_tokens(household_ids: list[int]) -> dict[int, str]:
    """The printed cards' tokens, signed as the service signs them (same SECRET_KEY)."""
    from merit_bank import create_app
    from merit_bank.extensions import db
    from merit_bank.households import services as households
    from merit_bank.households.models import Household

    app = create_app({"SQLALCHEMY_DATABASE_URI": pg_url(SERVICE_DB), **SECRETS})
    with app.app_context():
        tokens = {h.id: households.card_token(h) for h in db.session.query(Household).all()}
        db.engine.dispose()
    return {hid: tokens[hid] for hid in household_ids}


def scenarios(
    world: dict[str, Any], cards: dict[int, str], run: str
) -> dict[str, Callable[[int], list[Request]]]:
    """Request lists for each scenario; `run` keeps keys and cards of separate runs apart."""
    keeper = {"Authorization": f"Bearer {world['tokens']['keeper']}"}
    clerk = {"Authorization": f"Bearer {world['tokens']['clerk']}"}
    admin = {"Authorization": f"Bearer {world['tokens']['admin']}"}
    households = world["households"]

    def redemptions(n: int) -> list[Request]:
        return [
            (
                "POST",
                "/api/v1/redemptions",
                {
                    "shop_id": world["shop"],
                    "household_id": households[i % len(households)],
                    "lines": [{"item_id": world["item"], "quantity": 1}],
                },
                {**keeper, "Idempotency-Key": f"{run}-{i}-{uuid.uuid4().hex[:8]}"},
            )
            for i in range(n)
        ]

    def checkins(n: int) -> list[Request]:
        path = f"/api/v1/events/{world['event']}/checkins"
        return [("POST", path, {"card_token": token}, clerk) for token in list(cards.values())[:n]]

    def balances(n: int) -> list[Request]:
        return [
            ("GET", f"/api/v1/ledger/households/{households[i % len(households)]}/balance", None, admin)
            for i in range(n)
        ]

    return {"redemption": redemptions, "card check-in": checkins, "balance read": balances}


# --- statement counting ----------------------------------------------------------------------------


def server_log_path(given: str | None) -> Path:
    if given:
        return Path(given)
    current = pg_exec("SELECT pg_current_logfile()")[0][0]
    if current:
        data_dir = pg_exec("SHOW data_directory")[0][0]
        return Path(data_dir) / current
    version = pg_exec("SHOW server_version_num")[0][0][:2]
    return Path(f"/var/log/postgresql/postgresql-{version}-main.log")


def warm_every_worker(port: int, log: Path, offset: int, workers: int = 2) -> None:
    """Have every worker connect to the database before statements are counted: a worker's first
    connection runs SQLAlchemy's dialect set-up (nine statements), which no request runs in steady state.
    `offset` is where the server log stood before the server started."""
    marker = f"@{SERVICE_DB} LOG:  statement: select pg_catalog.version()"
    for _ in range(200):
        with log.open("rb") as handle:
            handle.seek(offset)
            if handle.read().decode("utf-8", "replace").count(marker) >= workers:
                return
        conn = HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection may reach another worker
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        conn.close()
        time.sleep(0.05)
    raise RuntimeError("not every worker of the server connected to the database")


def count_statements(
    port: int, requests: list[Request], log: Path, per_kind: int, show: bool = False
) -> tuple[float, float]:
    """(statements, COMMITs) per request, as PostgreSQL logged them, one request at a time."""
    pattern = re.compile(rf"@{SERVICE_DB} LOG:  (statement|execute)")
    commit = re.compile(rf"@{SERVICE_DB} LOG:  statement: COMMIT")
    # Warm up: connections made, statements prepared, as in steady load.
    drive(port, requests[:4], 60, 1, processes=1)
    offset = log.stat().st_size
    drive(port, requests[4 : 4 + per_kind], 600, 1, processes=1)
    time.sleep(0.3)  # the server writes its log asynchronously
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode("utf-8", "replace").splitlines()
    statements = sum(1 for line in lines if pattern.search(line))
    commits = sum(1 for line in lines if commit.search(line))
    if show:
        # The statements of the last request alone, as PostgreSQL logged them.
        offset = log.stat().st_size
        drive(port, requests[-1:], 60, 1, processes=1)
        time.sleep(0.2)
        with log.open("rb") as handle:
            handle.seek(offset)
            for line in handle.read().decode("utf-8", "replace").splitlines():
                if f"@{SERVICE_DB} " in line:
                    print("    " + line.split(f"@{SERVICE_DB} ", 1)[1][:300])
    return statements / per_kind, commits / per_kind


# --- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each timed scenario")
    parser.add_argument("--clients", type=int, default=16, help="client threads in all (over 2 processes)")
    parser.add_argument("--households", type=int, default=3000, help="households seeded (one check-in each)")
    parser.add_argument("--count", type=int, default=50, help="requests of each kind for statement counts")
    parser.add_argument("--show-sql", action="store_true", help="print one request's statements of each kind")
    parser.add_argument("--pg-log", help="PostgreSQL's log file (found by itself on Debian)")
    args = parser.parse_args()

    now = f"{datetime.now(UTC):%Y-%m-%d %H:%M}Z"
    print(f"# {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · {now}")
    version = pg_exec("SHOW server_version")[0][0]
    print(f"# PostgreSQL {version} · gunicorn -w 2 --threads 4 · {args.clients} client threads")
    print(f"# load average before: {os.getloadavg()}")

    make_service_database()
    with Server("merit_bank:create_app()", service_env()) as server:
        started = time.time()
        world = seed(server.port, args.households)
        print(
            f"# seeded {len(world['households'])} households through the API in {time.time() - started:.0f} s"
        )
    # The planner's statistics, as autovacuum would have gathered them on a village's server (pgbench
    # analyzes after its seeding too). Without them every table looks empty, the statements are planned for
    # empty tables and the posting scans whole tables under its lock; this machine's PostgreSQL runs with
    # autovacuum off.
    pg_exec("ANALYZE", SERVICE_DB)
    new_database(SEEDED_DB, template=SERVICE_DB)
    cards = card_tokens(world["households"])
    # Check-ins need a fresh household each; the statement count below takes the last `count` + 5 of them.
    checkin_cards = dict(list(cards.items())[: -args.count - 5])
    count_cards = dict(list(cards.items())[-args.count - 5 :])

    first = ceiling_rate(args.seconds, args.clients)
    print(f"ceiling (before): {first['rate']:8.1f} postings/s")
    results: dict[str, dict[str, Any]] = {}
    with Server("merit_bank:create_app()", service_env()) as server:
        for name, make in scenarios(world, checkin_cards, "timed").items():
            wanted = len(checkin_cards) if name == "card check-in" else MAX_REQUESTS
            with CpuMeter(server) as meter:
                result = drive(server.port, make(wanted), args.seconds, args.clients)
            results[name] = {**result, **cpu_per_request(meter, result["count"])}
    # The same kinds of request once more, as bare statements from a minimal app: what the SQL alone
    # allows, so that a missed target can be put down to the statements or to the Python around them.
    with tempfile.TemporaryDirectory() as folder:
        replayed = scenarios(world, checkin_cards, "replay")
        for name in WRITES:
            requests = replayed[name](len(checkin_cards))
            recorded = Path(folder, "recorded.pickle")
            started = time.time()
            record_statements(requests, recorded)
            print(f"# recorded {len(requests)} {name}s' statements in {time.time() - started:.0f} s")
            replay = replay_rate(recorded, len(requests), args.seconds, args.clients)
            results[f"{name}, SQL alone"] = {**replay, "statements_of": name}  # the service's own statements
    second = ceiling_rate(args.seconds, args.clients)
    print(f"ceiling (after):  {second['rate']:8.1f} postings/s")
    ceiling = (first["rate"] + second["rate"]) / 2

    log = server_log_path(args.pg_log)
    pg_exec(f"ALTER DATABASE {SERVICE_DB} SET log_statement = 'all'")
    counts: dict[str, tuple[float, float]] = {}
    try:
        offset = log.stat().st_size
        with Server("merit_bank:create_app()", service_env()) as server:
            warm_every_worker(server.port, log, offset)
            for name, make in scenarios(world, count_cards, "count").items():
                if args.show_sql:
                    print(f"# the statements of one {name}:")
                counts[name] = count_statements(
                    server.port, make(args.count + 5), log, args.count, args.show_sql
                )
    finally:
        pg_exec(f"ALTER DATABASE {SERVICE_DB} RESET log_statement")

    print()
    # The ceiling's CPU per posting over the request's: a ratio that moves far less with the machine's speed
    # than the rates do (the ceiling's rate is bound by its commit, the service's by CPU).
    ceiling_cpu = sum(run["app_ms"] + run["db_ms"] for run in (first, second)) / 2
    header = ("scenario", "req/s", "× ceiling", "p50 ms", "p99 ms", "SQL/req", "COMMITs", "app ms", "db ms")
    print(f"{header[0]:<26}" + "".join(f" {h:>9}" for h in (*header[1:], "CPU ×")) + "  bad")
    for name, result in results.items():
        statements, commits = counts[result.get("statements_of", name)]
        figures = (result["rate"], result["rate"] / ceiling, result["p50_ms"], result["p99_ms"])
        cpu = (result["app_ms"], result["db_ms"], ceiling_cpu / max(result["app_ms"] + result["db_ms"], 1e-9))
        line = f"{name:<26}" + "".join(f" {f:>9.2f}" for f in (*figures, statements, commits, *cpu))
        print(f"{line}  {result['bad']} {result['bad_statuses']}")
    for label, run in (("ceiling (before)", first), ("ceiling (after)", second)):
        print(f"{label:<16} app {run['app_ms']:.2f} ms, db {run['db_ms']:.2f} ms of CPU per posting")
    print("# app ms / db ms: CPU per request of the app server's workers / of all PostgreSQL processes;")
    print("# CPU ×: the ceiling's CPU per posting (app + db, mean of both runs) over the request's")
    print("# …, SQL alone: the service's statements for such requests, recorded in process and run from a")
    print("#   minimal Flask + Flask-SQLAlchemy app with nothing else around them (the same statements)")
    print()
    # What the write target leaves per request: with as many cores busy as the service kept busy, 0.5 of
    # the ceiling allows this much CPU (app + PostgreSQL) per request. Set beside what the request's
    # statements alone cost, it says whether any Python around them could reach the target here.
    target = 0.5 * ceiling
    for name in WRITES:
        service, alone = results[name], results[f"{name}, SQL alone"]
        cpu = service["app_ms"] + service["db_ms"]
        busy = service["rate"] * cpu / 1000
        budget = cpu * service["rate"] / target
        print(
            f"# {name}: {busy:.2f} cores busy; 0.5 of the ceiling ({target:.0f}/s) on them leaves "
            f"{budget:.2f} ms of CPU a request; the service costs {cpu:.2f} ms, its statements alone "
            f"{alone['app_ms'] + alone['db_ms']:.2f} ms"
        )
    print(f"# load average after: {os.getloadavg()}")
    for name in (SERVICE_DB, SEEDED_DB):
        drop_database(name)


if __name__ == "__main__":
    main()
