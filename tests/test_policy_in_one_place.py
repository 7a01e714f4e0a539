"""Who may do what is decided in the policy modules only: the check of issue #11, kept true by a test.

`grep -rn "role ==\\|role in" merit_bank/ --include=*.py` may find role tests only in `policy.py` files and in
`merit_bank/auth/`; templates compare no role strings and list no claim statuses (they get booleans).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "merit_bank"
TEMPLATES = ROOT / "templates"
DOMAINS = ("auth", "villages", "households", "rules", "claims", "events", "shop", "ledger", "reports")


def _hits(paths, pattern: re.Pattern[str]) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_python_tests_a_role_only_in_policy_modules_and_auth():
    # The grep, literally: "role ==" or "role in".
    pattern = re.compile(r"role ==|role in")
    allowed = [p for p in PACKAGE.rglob("*.py") if p.name == "policy.py" or (PACKAGE / "auth") in p.parents]
    others = [p for p in PACKAGE.rglob("*.py") if p not in allowed]
    assert _hits(others, pattern) == []
    # ...and the negations and role lists the literal grep would miss.
    stricter = re.compile(r"role (!=|not in)|\blogin_required\(\s*[\"']|require_role\(\w+, [\"']")
    assert _hits(others, stricter) == []


def test_every_domain_has_its_policy_module():
    assert [d for d in DOMAINS if not (PACKAGE / d / "policy.py").is_file()] == []


def test_templates_compare_no_role_and_list_no_claim_statuses():
    templates = list(TEMPLATES.rglob("*.html"))
    assert templates
    # A role compared in any way (==, !=, in, not in) to a string or a list of strings.
    role_test = re.compile(r"role\s*(==|!=|\bin\b|\bnot in\b)")
    assert _hits(templates, role_test) == []
    # The reviewable statuses were written into three templates; the policy answers instead.
    status_list = re.compile(r"in \(\s*'pending'|in \(\s*\"pending\"")
    assert _hits(templates, status_list) == []
