"""Publishing the stars: recorded, fixed against later ledger changes, corrected only by a new publication;
the board shows the latest; the certificates are PDFs whose text carries the household's name and figures."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from merit_bank.extensions import db
from tests.pdf_support import pdf_pages_text, pdf_qr_codes
from tests.reports.report_helpers import RWorld, local

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def publish(w: RWorld, user=None, **extra):
    body = {"village_id": w.village, "year": 2026, **extra}
    return w.app.test_client().post("/api/v1/reports/stars/publish", json=body, headers=w.h(user or w.admin))


def published(w: RWorld, **query):
    args = "&".join(f"{k}={v}" for k, v in {"village_id": w.village, "year": 2026, **query}.items())
    return w.app.test_client().get(f"/api/v1/reports/stars/published?{args}", headers=w.h(w.admin))


def stars_of(body) -> dict[int, tuple[int, int]]:
    return {row["household_id"]: (row["earned"], row["stars"]) for row in body["items"]}


@pytest.fixture
def rated(rworld: RWorld) -> RWorld:
    w = rworld
    w.app.test_client().put(
        "/api/v1/reports/stars/settings",
        json={"village_id": w.village, "thresholds": [10, 20, 30], "caps": {"anti_drug_gambling": 0}},
        headers=w.h(w.admin),
    )
    w.award(local(2026, 3, 1, 9), 0, 30, name="h0-award")  # 3 stars
    w.award(local(2026, 3, 2, 9), 1, 19)  # 1 star
    w.award(local(2026, 3, 3, 9), 2, 20)  # 2 stars
    return w


def test_publication_is_recorded_and_fixed_against_later_ledger_changes(rated):
    w = rated
    first = publish(w)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    ids = [h["id"] for h in w.households]
    assert body["version"] == 1 and body["corrected"] is False
    assert body["settings"] == {"thresholds": [10, 20, 30], "caps": {"anti_drug_gambling": 0}}
    assert body["published_by"] and body["published_at"]
    assert stars_of(body)[ids[0]] == (30, 3)

    # The ledger moves on and the settings change: the publication does not.
    w.award(local(2026, 4, 1, 9), 1, 1)  # 20: would be 2 stars
    w.reverse(local(2026, 4, 2, 9), "h0-award")  # 0: would be 0 stars
    w.award(local(2026, 4, 3, 9), 2, -1, "anti_drug_gambling")  # capped: would be 0 stars
    w.app.test_client().put(
        "/api/v1/reports/stars/settings",
        json={"village_id": w.village, "thresholds": [1, 2, 3, 4, 5], "caps": {}},
        headers=w.h(w.admin),
    )
    still = published(w).get_json()
    assert stars_of(still) == stars_of(body)
    assert still["settings"] == body["settings"] and still["version"] == 1
    # The database itself refuses to change a published rating.
    with w.app.app_context(), pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE star_ratings SET stars = 5"))
        db.session.commit()
    # The preview says the ledger no longer agrees with what was published.
    preview = (
        w.app.test_client()
        .get(f"/api/v1/reports/stars?village_id={w.village}&year=2026", headers=w.h(w.admin))
        .get_json()
    )
    assert preview["differs_from_published"] is True
    assert [p["version"] for p in preview["publications"]] == [1]


def test_a_correction_is_a_new_recorded_publication(rated):
    w = rated
    assert publish(w).status_code == 201
    w.award(local(2026, 4, 1, 9), 1, 1)
    # Publishing again without saying why is refused, naming the field.
    again = publish(w)
    assert again.status_code == 422 and "reason" in again.get_json()["errors"]
    corrected = publish(w, reason="李德明户一次志愿服务漏记")
    assert corrected.status_code == 201
    body = corrected.get_json()
    assert (body["version"], body["corrected"], body["reason"]) == (2, True, "李德明户一次志愿服务漏记")
    assert stars_of(body)[w.households[1]["id"]] == (20, 2)
    latest = published(w).get_json()
    assert latest["version"] == 2 and [v["version"] for v in latest["versions"]] == [2, 1]
    # Version 1 is still there, as it was.
    assert stars_of(published(w, version=1).get_json())[w.households[1]["id"]] == (19, 1)

    board = w.app.test_client().get(f"/board/{village_code(w)}")
    html = board.get_data(as_text=True)
    assert board.status_code == 200
    assert 'data-testid="stars-board"' in html and 'data-testid="stars-corrected"' in html
    assert "王建国" in html and "李德明" in html
    # Only households with a star are on the board, and no household codes.
    assert w.households[1]["code"] not in html


def test_only_an_admin_of_the_village_publishes(rated):
    w = rated
    assert publish(w, user=w.clerk).status_code == 403
    assert publish(w, user=w.other_admin).status_code == 404
    assert published(w).status_code == 404
    assert published(w).get_json()["type"] == "stars-not-published"
    assert publish(w, year=2999).status_code == 422


def village_code(w: RWorld) -> str:
    from merit_bank.villages.models import Village

    with w.app.app_context():
        return db.session.get(Village, w.village).code


def test_certificates_are_pdfs_with_the_names_and_figures(rated):
    w = rated
    client = w.app.test_client()
    url = f"/api/v1/reports/stars/certificates.pdf?village_id={w.village}&year=2026"
    assert client.get(url, headers=w.h(w.admin)).status_code == 404  # nothing published yet
    publish(w)
    response = client.get(url, headers=w.h(w.clerk))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = pdf_pages_text(response.data)
    assert len(pages) == 3  # one per household with a star
    first = pages[0]
    assert "王建国" in first and "2026" in first and "30" in first and "幸福村" in first and "三星级" in first
    assert "李德明" in pages[2] and "19" in pages[2] and "一星级" in pages[2]
    # The QR opens the village's public ledger verification page.
    assert all(code.endswith(f"/board/{village_code(w)}/ledger") for code in pdf_qr_codes(response.data))

    one = client.get(url + f"&household_id={w.households[2]['id']}", headers=w.h(w.admin))
    assert one.status_code == 200
    (page,) = pdf_pages_text(one.data)
    assert "张志强" in page and "20" in page and "二星级" in page
    # A household without a star has no certificate.
    none = client.get(url + f"&household_id={w.households[3]['id']}", headers=w.h(w.admin))
    assert none.status_code == 404


def test_no_font_is_a_clear_503_not_a_500(rated):
    w = rated
    publish(w)
    w.app.config["PDF_FONT"] = "/nonexistent/font.ttc"
    response = w.app.test_client().get(
        f"/api/v1/reports/stars/certificates.pdf?village_id={w.village}&year=2026", headers=w.h(w.admin)
    )
    assert response.status_code == 503
    body = response.get_json()
    assert body["type"] == "pdf-font-missing" and "PDF_FONT" in body["detail"]
