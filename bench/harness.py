"""What the HTTP benchmarks share: a free port, the service (or another app) under gunicorn, and a small
JSON client that seeds through the API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn -w 2 --threads 4 on a free port, for as long as the `with` block runs."""

    def __init__(self, app_spec: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "--log-level", "warning"]
        self.process = subprocess.Popen(
            [*gunicorn, "-b", f"127.0.0.1:{self.port}", app_spec],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        self.process.wait(30)


class Api:
    """A small JSON client for seeding (one keep-alive connection)."""

    def __init__(self, port: int) -> None:
        self.conn = HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = ""

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        self.conn.request(
            method, "/api/v1" + path, json.dumps(body) if body is not None else None, all_headers
        )
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} → {response.status}: {data[:300]!r}")
        return json.loads(data) if data else None

    def login(self, username: str, password: str) -> str:
        self.token = ""
        self.token = self.call("POST", "/auth/login", {"username": username, "password": password})[
            "access_token"
        ]
        return self.token
