"""Star ratings from the ledger: each threshold's edge, the year's local bounds, reversals and disqualifying
deductions, checked against figures computed independently from the ledger rows."""

from __future__ import annotations

from datetime import date

import pytest

from tests.reports.report_helpers import RWorld, ledger_figures, local

THRESHOLDS = [10, 20, 30, 40, 50]


def set_settings(w: RWorld, thresholds=THRESHOLDS, caps=None, user=None):
    body = {"village_id": w.village, "thresholds": thresholds, "caps": caps or {"anti_drug_gambling": 0}}
    return w.app.test_client().put("/api/v1/reports/stars/settings", json=body, headers=w.h(user or w.admin))


def preview(w: RWorld, year: int = 2026, user=None):
    response = w.app.test_client().get(
        f"/api/v1/reports/stars?village_id={w.village}&year={year}", headers=w.h(user or w.admin)
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_id(body) -> dict[int, dict]:
    return {row["household_id"]: row for row in body["items"]}


@pytest.fixture
def edges(rworld: RWorld) -> RWorld:
    """Each household's 2026 sits at or just below a threshold; posted in time order."""
    w = rworld
    # Late on 31 December 2025, local: last year, though the year has begun in no zone east of UTC+8.
    w.award(local(2025, 12, 31, 23, 30), 1, 100)
    # 00:30 on 1 January 2026, local (still 2025 in UTC): this year.
    w.award(local(2026, 1, 1, 0, 30), 0, 10)  # exactly 1 star
    w.award(local(2026, 1, 2, 9), 1, 9)  # one below 1 star (the 100 of 2025 does not count)
    w.award(local(2026, 1, 3, 9), 2, 39)  # one below 4 stars
    w.award(local(2026, 1, 3, 10), 2, 11, name="h2-extra")  # reversed below: back to 39
    w.award(local(2026, 1, 4, 9), 3, 50)  # exactly 5 stars
    w.award(local(2026, 1, 5, 9), 4, 50)  # 5 stars, but ...
    w.award(local(2026, 1, 6, 9), 4, -1, "anti_drug_gambling")  # ... any 禁毒禁赌 deduction: 0 stars
    w.award(local(2026, 1, 7, 9), 5, 40)  # exactly 4 stars; a covenant deduction, reversed: no cap
    w.award(local(2026, 1, 8, 9), 5, -2, "covenant", name="h5-deduction")
    w.reverse(local(2026, 2, 1, 9), "h2-extra")
    w.reverse(local(2026, 2, 2, 9), "h5-deduction")
    w.award(local(2026, 2, 3, 9), -1, 500)  # the other village: none of this village's business
    return w


def test_the_defaults_apply_until_a_village_sets_its_own(rworld):
    body = preview(rworld)
    assert body["settings"] == {
        "thresholds": [10, 30, 60, 100, 150],
        "caps": {"anti_drug_gambling": 0},
        "custom": False,
    }
    assert {row["stars"] for row in body["items"]} == {0}
    assert len(body["items"]) == 6


def test_stars_at_each_threshold_edge_and_under_a_disqualifying_deduction(edges):
    w = edges
    assert set_settings(w, caps={"anti_drug_gambling": 0, "covenant": 2}).status_code == 200
    rows = by_id(preview(w))
    ids = [h["id"] for h in w.households]
    expected = {
        ids[0]: (10, 1, None),
        ids[1]: (9, 0, None),
        ids[2]: (39, 3, None),
        ids[3]: (50, 5, None),
        ids[4]: (50, 0, "anti_drug_gambling"),
        ids[5]: (40, 4, None),
    }
    assert {hid: (r["earned"], r["stars"], r["capped_by"]) for hid, r in rows.items()} == expected

    # Earned is what the ledger rows say for the local year, computed here independently.
    figures = ledger_figures(w.app, w.village, date(2026, 1, 1), date(2026, 12, 31))
    assert {hid: rows[hid]["earned"] for hid in ids} == {hid: figures[hid]["earned"] for hid in ids}

    # One point more at each edge moves each household up exactly one star.
    w.award(local(2026, 3, 1, 9), 1, 1)  # 10: 1 star
    w.award(local(2026, 3, 1, 10), 2, 1)  # 40: 4 stars
    rows = by_id(preview(w))
    assert (rows[ids[1]]["stars"], rows[ids[2]]["stars"]) == (1, 4)

    # A covenant deduction that stands caps at 2 stars; the 禁毒禁赌 cap (0) stays the lower one.
    w.award(local(2026, 3, 2, 9), 5, -1, "covenant")
    w.award(local(2026, 3, 2, 10), 4, -1, "covenant")
    rows = by_id(preview(w))
    assert (rows[ids[5]]["stars"], rows[ids[5]]["capped_by"]) == (2, "covenant")
    assert (rows[ids[4]]["stars"], rows[ids[4]]["capped_by"]) == (0, "anti_drug_gambling")
    # A cap never raises a rating: 1 star stays 1 under a cap of 2.
    w.award(local(2026, 3, 3, 9), 0, -1, "covenant")
    assert by_id(preview(w))[ids[0]]["stars"] == 1


def test_the_list_is_best_first_with_counts(edges):
    set_settings(edges)
    body = preview(edges)
    assert [row["stars"] for row in body["items"]] == sorted(
        (row["stars"] for row in body["items"]), reverse=True
    )
    assert body["counts"] == {"5": 1, "4": 1, "3": 1, "2": 0, "1": 1, "0": 2}
    # Last year, by its own local bounds: only the 100 posted late on 31 December 2025.
    last_year = by_id(preview(edges, 2025))
    assert last_year[edges.households[1]["id"]]["earned"] == 100


@pytest.mark.parametrize(
    "thresholds, caps, field",
    [
        ([10, 10, 30], {}, "thresholds"),
        ([30, 20], {}, "thresholds"),
        ([], {}, "thresholds"),
        ([1, 2, 3, 4, 5, 6], {}, "thresholds"),
        ([0, 10], {}, "thresholds"),
        ([10, 20], {"covenant": 2}, "caps"),
        ([10, 20], {"no_such_council": 0}, "caps"),
        ([10, 20], {"covenant": -1}, "caps"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(rworld, thresholds, caps, field):
    response = set_settings(rworld, thresholds, caps)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_who_may_see_and_set_the_stars(rworld):
    w = rworld
    assert preview(w, user=w.clerk)["village_id"] == w.village
    assert set_settings(w, user=w.clerk).status_code == 403
    other = w.app.test_client().get(
        f"/api/v1/reports/stars?village_id={w.village}&year=2026", headers=w.h(w.other_admin)
    )
    assert other.status_code == 404
    future = w.app.test_client().get(
        f"/api/v1/reports/stars?village_id={w.village}&year=2999", headers=w.h(w.admin)
    )
    assert future.status_code == 422 and "year" in future.get_json()["errors"]
