"""Schemathesis fuzzes every operation of the served OpenAPI document, as an admin and as a villager.

Each operation gets a few generated requests that fit the spec and a few that do not; every answer must be
below 500, and every error must be problem+json that the spec's documented schema accepts (status code,
content type and body). All failures are gathered into one report grouped by operation, so a run shows the
whole picture instead of the first crash.

The run is bounded (examples per operation, a time budget per test) so the four tests (two roles, two
databases) add a few minutes at most to scripts/test.sh.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import GenerationConfig, SchemathesisConfig
from schemathesis.core import NOT_SET
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import auth, make_villager, root_admin
from tests.shop.shop_helpers import build_world

pytestmark = pytest.mark.fuzz

# Per operation and mode (fitting the spec, not fitting it), and a time budget per test (one role on one
# database) past which the remaining operations get one example each. A deeper run by hand:
# FUZZ_EXAMPLES=100 FUZZ_BUDGET_SECONDS=3600 pytest tests/test_fuzz_openapi.py
EXAMPLES_PER_MODE = int(os.environ.get("FUZZ_EXAMPLES", "8"))
BUDGET_SECONDS = float(os.environ.get("FUZZ_BUDGET_SECONDS", "45"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Fuzz:
    """One fuzz run: who it acts as, which logins it must not break, and what went wrong so far."""

    login: Callable[[], dict[str, str]]
    protected: set[int]
    problem: jsonschema_rs.Validator
    failures: dict[str, list[str]] = field(default_factory=dict)
    requests: int = 0

    def add(self, operation: str, message: str) -> None:
        seen = self.failures.setdefault(operation, [])
        # One entry per distinct first line is enough to find a failure again.
        head = message.splitlines()[0] if message else ""
        if not any(line.splitlines()[0] == head for line in seen) and len(seen) < 5:
            seen.append(message)

    def report(self) -> str:
        lines = []
        for operation, messages in sorted(self.failures.items()):
            lines.append(f"== {operation}")
            lines.extend("   " + m.replace("\n", "\n   ") for m in messages)
        return "\n".join(lines)

    def spare_logins(self, case):
        """Generated requests must not deactivate or re-password the logins the fuzz acts as: that would
        turn the rest of the run into 401s. Other ids stay as generated."""
        params = case.path_parameters
        if isinstance(params, dict) and params.get("user_id") in self.protected:
            case.path_parameters = {**params, "user_id": max(self.protected) + 1000}
        return case


@dataclass
class Seeded:
    users: dict[str, int]  # role -> user id the fuzz acts as
    known: dict[str, list[int]]  # parameter name -> ids of real objects


def _seed(app) -> Seeded:
    """A village with a shop, goods, households with points, a rule and an event running now, a
    villager login, and the deployment's admin. Half the generated requests name these real objects, so
    the fuzz reaches the business rules and not only "not found"."""
    admin_id = root_admin(app)
    world = build_world(app, households=2, points=200)
    villager_id = make_villager(app, world.households[0])
    client = app.test_client()
    admin = auth(app, admin_id)
    rule = client.post(
        "/api/v1/rules",
        json={
            "village_id": world.village_id,
            "code": "FUZZ",
            "name": "清扫",
            "council": "volunteer",
            "points": 5,
            "needs_review": False,
            "notice_days": 0,
            "approvals_required": 1,
        },
        headers=admin,
    )
    assert rule.status_code == 201, rule.get_json()
    now = datetime.now(UTC)
    event = client.post(
        "/api/v1/events",
        json={
            "village_id": world.village_id,
            "title": "河道清理",
            "rule_id": rule.get_json()["id"],
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
        },
        headers=admin,
    )
    assert event.status_code == 201, event.get_json()
    return Seeded(
        users={"admin": admin_id, "villager": villager_id},
        known={
            "village_id": [world.village_id],
            "household_id": [h["id"] for h in world.households],
            "member_id": world.households[0]["member_ids"],
            "shop_id": [world.shop_id],
            "item_id": list(world.items.values()),
            "rule_id": [rule.get_json()["id"]],
            "event_id": [event.get_json()["id"]],
        },
    )


def _pin(value: Any, known: dict[str, list[int]], pick: int) -> Any:
    """Replace every member named like a known id (at any depth) by one of the real ids."""
    if isinstance(value, dict):
        return {
            key: known[key][pick % len(known[key])] if key in known else _pin(item, known, pick)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_pin(item, known, pick) for item in value]
    return value


def _with_known_ids(strategy, known: dict[str, list[int]]):
    def pin(drawn):
        case, use_known, pick = drawn
        if use_known:
            for name in ("path_parameters", "query", "body"):
                current = getattr(case, name)
                if isinstance(current, dict | list):
                    setattr(case, name, _pin(current, known, pick))
        return case

    return st.tuples(strategy, st.booleans(), st.integers(0, 7)).map(pin)


# What merit_bank.errors.problem() promises, independent of what the spec says (which is checked too).
PROBLEM_SHAPE = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "minLength": 1},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {"type": "object"},
    },
}


def _check_error(response, problem: jsonschema_rs.Validator) -> str | None:
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        return f"{response.status_code} sent as {content_type!r}, not application/problem+json"
    errors = [e.message for e in problem.iter_errors(response.json())]
    if errors:
        return f"{response.status_code} body is not a problem document: {errors}"
    return None


def _describe(case, response) -> str:
    body = None if case.body is NOT_SET else case.body
    return (
        f"-> {response.status_code} {response.text[:300]!r}\n"
        f"request: path={case.path_parameters} query={case.query} body={body!r}"[:1200]
    )


def _fuzz(fuzz: Fuzz, operation, mode: GenerationMode, examples: int, known: dict[str, list[int]]) -> None:
    """Send `examples` generated requests to one operation and record what went wrong."""
    label = f"{operation.method.upper()} {operation.path}"
    strategy = _with_known_ids(operation.as_strategy(generation_mode=mode), known).map(fuzz.spare_logins)

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case) -> None:
        # A fresh token for every request, so that POST /auth/logout revokes only its own.
        call_headers = {**fuzz.login(), "Idempotency-Key": uuid.uuid4().hex}
        response = case.call(headers=call_headers)
        fuzz.requests += 1
        if response.status_code >= 500:
            fuzz.add(label, f"[{mode}] SERVER ERROR {response.status_code}")
        trouble = _check_error(response, fuzz.problem)
        if trouble:
            fuzz.add(label, f"[{mode}] {trouble} {_describe(case, response)}")
        try:
            case.validate_response(response, checks=CHECKS, headers=call_headers)
        except AssertionError as exc:
            fuzz.add(label, f"[{mode}] {str(exc).strip()[:600]}\n{_describe(case, response)}")
        except BaseExceptionGroup as group:
            for exc in group.exceptions:
                fuzz.add(label, f"[{mode}] {str(exc).strip()[:600]}\n{_describe(case, response)}")

    try:
        run()
    except Unsatisfiable:
        pass  # nothing of this operation can be made invalid (e.g. no parameters, only string path parts)
    except Exception as exc:  # a generation error is a finding about the spec, not a crash of the test
        fuzz.add(label, f"[{mode}] could not generate: {type(exc).__name__}: {exc}"[:600])


@pytest.mark.parametrize("role", ["admin", "villager"])
def test_fuzzing_every_operation_gives_no_server_error_and_only_documented_problem_json(app, role):
    seeded = _seed(app)
    users = seeded.users
    config = SchemathesisConfig()
    config.projects.default.generation = GenerationConfig(allow_x00=True, deterministic=True)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    fuzz = Fuzz(
        login=lambda: auth(app, users[role]),
        protected=set(users.values()),
        problem=jsonschema_rs.validator_for(PROBLEM_SHAPE),
    )
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 80, "the served spec lost operations"

    for operation in operations:
        late = time.monotonic() - started > BUDGET_SECONDS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(fuzz, operation, mode, 1 if late else EXAMPLES_PER_MODE, seeded.known)

    elapsed = time.monotonic() - started
    print(f"fuzzed {len(operations)} operations as {role} with {fuzz.requests} requests in {elapsed:.0f}s")
    assert not fuzz.failures, f"{len(fuzz.failures)} operations misbehaved as {role}:\n{fuzz.report()}"
