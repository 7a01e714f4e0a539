"""Page weight and load time on a slow phone link (not a test): headless Chromium, emulated 3G.

    python bench/pages.py                       # PostgreSQL, 3 runs a page, 400 ms latency, 50 KB/s
    python bench/pages.py --db sqlite --runs 5
    python bench/pages.py --cpu 4               # and the CPU of a low-end phone (DevTools' CPU throttling)

It makes its own database (PostgreSQL through BENCH_PG_ADMIN_URL, default
postgresql://postgres@127.0.0.1:5432/postgres, or a temporary SQLite file), runs the service under gunicorn as
production does, and seeds it through the API: a village, a household whose head has a villager login, and an
event running now. Then for each page, in a fresh browser context (cold cache) on a 360×640 phone screen with
the link emulated by Chrome DevTools Protocol's Network.emulateNetworkConditions (latency 400 ms, 50 KB/s down
and up), it records the bytes that crossed the network (headers and bodies, as Chromium counts them), the
requests that went out, and the time to the load event; then it opens the same page again in a new tab of the
same context (warm cache) and counts again. Pages: the villager's home, the event landing /c/<token> (logged
out, and logged in as the villager), the activation page, and (with no target) the clerk's scan page.
Service workers are blocked: the scan page's would fetch beyond the tab's emulated link, where this log does
not see it.

Targets (issue 13): each ≤ 60 KB transferred and loaded ≤ 2 s cold; ≤ 1 round trip warm. Exit status 1 when a
target is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py sits beside this file; this folder must not shadow the standard library's http.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from http.client import HTTPConnection  # noqa: E402
from typing import Any  # noqa: E402

ROOT = _HERE.parent
sys.path.insert(0, str(ROOT))

from bench.harness import Api, Server  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "mb_bench_pages"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SECRETS = {
    "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-that-is-long-enough-00",
}
ADMIN_PASSWORD = "bench-admin-password"
VILLAGER_PHONE = "13912345678"
VILLAGER_PIN = "246810"
LOGINS = {"villager": (VILLAGER_PHONE, VILLAGER_PIN), "clerk": ("bench-clerk", ADMIN_PASSWORD)}
TARGET_BYTES = 60 * 1000
TARGET_SECONDS = 2.0
TARGET_WARM_REQUESTS = 1


# --- the service -------------------------------------------------------------------------------------


def make_database(kind: str, folder: str) -> str:
    """A fresh empty database; returns its SQLAlchemy URL."""
    if kind == "sqlite":
        return f"sqlite:///{folder}/pages.sqlite3"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + DATABASE


def drop_database(kind: str) -> None:
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def seed(port: int) -> dict[str, str]:
    """A village, a household of three whose head logs in with a PIN, an event running now; page paths."""
    api = Api(port)
    api.login("bench-admin", ADMIN_PASSWORD)
    village = api.call("POST", "/villages", {"name": "幸福村", "code": "PAGES", "groups": ["一组", "二组"]})[
        "id"
    ]
    household = api.call(
        "POST",
        "/households",
        {
            "village_id": village,
            "head_name": "王建国",
            "members": [
                {"name": "王建国", "relation": "户主", "phone": VILLAGER_PHONE},
                {"name": "李秀英", "relation": "配偶"},
                {"name": "王小明", "relation": "子女"},
            ],
        },
    )
    api.call(
        "POST",
        "/users",
        {
            "username": VILLAGER_PHONE,
            "password": VILLAGER_PIN,
            "role": "villager",
            "village_id": village,
            "member_id": household["members"][0]["id"],
        },
    )
    rule = api.call(
        "POST",
        "/rules",
        {
            "code": "CLEAN",
            "name": "河道清理",
            "council": "volunteer",
            "points": 5,
            "unit": "each",
            "needs_review": False,
            "notice_days": 0,
            "approvals_required": 1,
            "village_id": village,
        },
    )["id"]
    api.call(
        "POST",
        "/users",
        {
            "username": "bench-clerk",
            "password": ADMIN_PASSWORD,
            "role": "clerk",
            "village_id": village,
            "councils": ["volunteer"],
        },
    )
    api.login("bench-clerk", ADMIN_PASSWORD)
    now = datetime.now(UTC)
    event = api.call(
        "POST",
        "/events",
        {
            "village_id": village,
            "title": "河道清理",
            "location": "村东头河道",
            "rule_id": rule,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=6)).isoformat(),
        },
    )["id"]
    checkin_url = api.call("GET", f"/events/{event}/code")["checkin_url"]
    landing = "/" + checkin_url.split("://", 1)[-1].split("/", 1)[1]
    return {"home": "/", "landing": landing, "activate": "/activate", "scan": f"/events/{event}/scan"}


# --- the browser -------------------------------------------------------------------------------------


class NetworkLog:
    """What one tab fetched, from the DevTools protocol's Network events."""

    def __init__(self, cdp: Any) -> None:
        self.requests: dict[str, dict[str, Any]] = {}
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", self._cached)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)

    def _entry(self, request_id: str) -> dict[str, Any]:
        return self.requests.setdefault(request_id, {"url": "", "cached": False, "bytes": 0, "status": None})

    def _sent(self, event: dict[str, Any]) -> None:
        entry = self._entry(event["requestId"])
        entry["url"] = event["request"]["url"]
        if event.get("redirectResponse"):  # the same id goes on after a redirect: count the hop too
            entry["redirects"] = entry.get("redirects", 0) + 1

    def _cached(self, event: dict[str, Any]) -> None:
        self._entry(event["requestId"])["cached"] = True

    def _response(self, event: dict[str, Any]) -> None:
        entry = self._entry(event["requestId"])
        response = event["response"]
        entry["status"] = response.get("status")
        if (
            response.get("fromDiskCache")
            or response.get("fromPrefetchCache")
            or response.get("fromServiceWorker")
        ):
            entry["cached"] = True

    def _finished(self, event: dict[str, Any]) -> None:
        self._entry(event["requestId"])["bytes"] = int(event.get("encodedDataLength", 0))

    def _failed(self, event: dict[str, Any]) -> None:
        self._entry(event["requestId"])["failed"] = event.get("errorText", "")

    def summary(self) -> dict[str, Any]:
        network = [
            r
            for r in self.requests.values()
            if not r["cached"] and not r["url"].startswith(("data:", "blob:"))
        ]
        return {
            "bytes": sum(r["bytes"] for r in network),
            "requests": len(network) + sum(r.get("redirects", 0) for r in network),
            "cached": sum(1 for r in self.requests.values() if r["cached"]),
            "urls": [re.sub(r"^https?://[^/]+", "", r["url"]) for r in network],
        }


def open_tab(context: Any, url: str, conditions: dict[str, Any], cpu: float) -> dict[str, Any]:
    """Open `url` in a new tab on the emulated link; what it fetched and when its load event ended."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    log = NetworkLog(cdp)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", conditions)
    if cpu > 1:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
    started = time.perf_counter()
    response = page.goto(url, wait_until="load", timeout=60_000)
    wall = time.perf_counter() - started
    if response is None or response.status != 200:
        raise RuntimeError(f"{url}: {response.status if response else 'no response'}")
    timing = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
    by_load = log.summary()["bytes"]
    # Requests that start after the load event (an icon, a script's fetch) still count.
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(2500)
    result = {
        **log.summary(),
        "bytes_by_load": by_load,
        "load_s": json.loads(timing)["loadEventEnd"] / 1000,
        "wall_s": wall,
    }
    page.close()
    return result


def log_in(context: Any, base: str, who: str) -> None:
    """Log in through the form (through the context's cookie jar, not its HTTP cache)."""
    username, password = LOGINS[who]
    html = context.request.get(f"{base}/login").text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, "no CSRF token on the login page"
    answer = context.request.post(
        f"{base}/login",
        form={"username": username, "password": password, "csrf_token": token.group(1)},
        max_redirects=0,
    )
    if answer.status != 302:
        raise RuntimeError(f"login: {answer.status}")


def measure(
    browser: Any, base: str, path: str, who: str | None, conditions: dict[str, Any], cpu: float
) -> dict[str, Any]:
    # No service workers: the scan page's would fetch beyond the tab's emulated link, unthrottled and unseen.
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, locale="zh-CN", is_mobile=True, service_workers="block"
    )
    try:
        if who is not None:
            log_in(context, base, who)
        cold = open_tab(context, base + path, conditions, cpu)
        warm = open_tab(context, base + path, conditions, cpu)
    finally:
        context.close()
    return {"cold": cold, "warm": warm}


# --- the run -----------------------------------------------------------------------------------------


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError, StopIteration):
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.node()} · {model or platform.machine()} · {os.cpu_count()} cores · load {load}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--runs", type=int, default=3, help="measurements of each page (the median is shown)")
    parser.add_argument("--latency", type=float, default=400.0, help="ms added to every request")
    parser.add_argument("--kbps", type=float, default=50.0, help="KB/s (1 KB = 1000 bytes) down and up")
    parser.add_argument("--cpu", type=float, default=1.0, help="CPU slowdown (4: a low-end phone)")
    parser.add_argument("--json", help="also write the raw measurements to this file")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    conditions = {
        "offline": False,
        "latency": args.latency,
        "downloadThroughput": args.kbps * 1000,
        "uploadThroughput": args.kbps * 1000,
    }
    pages = [
        ("villager home", "home", "villager"),
        ("event landing, logged out", "landing", None),
        ("event landing, logged in", "landing", "villager"),
        ("activation page", "activate", None),
        ("clerk's scan page", "scan", "clerk"),  # staff, on a clinic-grade link too: no target
    ]
    targeted = {label for label, _, _ in pages[:4]}
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in pages}
    with tempfile.TemporaryDirectory() as folder:
        url = make_database(args.db, folder)
        env = {**os.environ, "DATABASE_URL": url, **SECRETS, "PYTHONPATH": str(ROOT)}
        env["MERIT_BANK_ENV"] = "development"
        flask = [sys.executable, "-m", "flask", "--app", "merit_bank"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        subprocess.run(
            [*flask, "create-admin", "bench-admin", "--password", ADMIN_PASSWORD],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        try:
            with Server("wsgi:app", env) as server, sync_playwright() as playwright:
                paths = seed(server.port)
                for path in paths.values():  # the workers' first requests load templates: not measured
                    for _ in range(4):
                        conn = HTTPConnection("127.0.0.1", server.port, timeout=30)
                        conn.request("GET", path)
                        conn.getresponse().read()
                        conn.close()
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                print(f"# {machine()}")
                print(f"# Chromium {browser.version} · {args.db} · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
                print(
                    f"# link: {args.latency:.0f} ms latency, {args.kbps:g} KB/s; CPU slowdown {args.cpu:g}×;"
                    f" median of {args.runs} runs"
                )
                for _ in range(args.runs):
                    for label, key, who in pages:
                        results[label].append(
                            measure(browser, server.url, paths[key], who, conditions, args.cpu)
                        )
                browser.close()
        finally:
            drop_database(args.db)

    print()
    print(
        "| page | cold: KB | cold: KB by load event | cold: requests | cold: load s "
        "| warm: requests | warm: KB | warm: load s | targets |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    missed = False
    for label, runs in results.items():

        def median(phase: str, key: str, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(r[phase][key] for r in runs)

        cold_kb, cold_s = median("cold", "bytes") / 1000, median("cold", "load_s")
        warm_requests = max(r["warm"]["requests"] for r in runs)
        met = (
            cold_kb * 1000 <= TARGET_BYTES
            and cold_s <= TARGET_SECONDS
            and warm_requests <= TARGET_WARM_REQUESTS
        )
        verdict = ("met" if met else "**missed**") if label in targeted else "(none)"
        missed = missed or (label in targeted and not met)
        print(
            f"| {label} | {cold_kb:.1f} | {median('cold', 'bytes_by_load') / 1000:.1f} "
            f"| {median('cold', 'requests'):.0f} | {cold_s:.2f} "
            f"| {warm_requests} | {median('warm', 'bytes') / 1000:.1f} | {median('warm', 'load_s'):.2f} "
            f"| {verdict} |"
        )
    print()
    for label, runs in results.items():
        print(
            f"- {label}: cold {', '.join(runs[0]['cold']['urls'])}; warm {', '.join(runs[0]['warm']['urls'])}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
