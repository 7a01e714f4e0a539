"""Running jobs truly at once, for the race tests (no overdraft, no double post, no double check-in)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from merit_bank.extensions import db


def run_concurrently(app: Flask, jobs: list[Callable[[], Any]]) -> list[Any]:
    """Start every job at the same moment, each in its own app context; results are values or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def worker(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[i] = jobs[i]()
            except Exception as exc:
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results
