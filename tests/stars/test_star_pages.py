"""The 星级文明户 pages: the preview, the settings and publish forms (admins), refusals in Chinese."""

from __future__ import annotations

from tests.factories import PASSWORD, csrf_token, make_user, page_login
from tests.reports.report_helpers import RWorld, local


def login(w: RWorld, role: str):
    name = f"stars-{role}-{w._key().replace(':', '')}"
    make_user(w.app, role, w.village, username=name)
    client = w.app.test_client()
    page_login(client, name, PASSWORD)
    return client


def test_an_admin_sets_previews_and_publishes_through_the_pages(rworld):
    w = rworld
    w.award(local(2026, 3, 1, 9), 0, 30)
    client = login(w, "admin")
    page = client.get(f"/reports/stars?village_id={w.village}&year=2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "星级文明户" in html and "王建国" in html
    token = csrf_token(client, f"/reports/stars?village_id={w.village}&year=2026")

    bad = client.post(
        "/reports/stars/settings",
        data={
            "csrf_token": token,
            "village_id": w.village,
            "year": 2026,
            "threshold_1": "20",
            "threshold_2": "10",
        },
    )
    assert bad.status_code == 422 and "每一星所需积分须高于前一星" in bad.get_data(as_text=True)
    saved = client.post(
        "/reports/stars/settings",
        data={
            "csrf_token": token,
            "village_id": w.village,
            "year": 2026,
            "threshold_1": "10",
            "threshold_2": "20",
            "threshold_3": "30",
            "cap_anti_drug_gambling": "0",
        },
    )
    assert saved.status_code == 302
    published = client.post(
        "/reports/stars/publish", data={"csrf_token": token, "village_id": w.village, "year": 2026}
    )
    assert published.status_code == 302
    html = client.get(published.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="stars-published-notice"' in html and 'data-testid="stars-publication"' in html
    # A second publication without a reason: refused on the page, in Chinese, naming the field.
    again = client.post(
        "/reports/stars/publish", data={"csrf_token": token, "village_id": w.village, "year": 2026}
    )
    assert again.status_code == 422 and "更正时请说明原因" in again.get_data(as_text=True)
    listed = client.get(f"/reports/stars/published?village_id={w.village}&year=2026")
    assert listed.status_code == 200 and "王建国" in listed.get_data(as_text=True)


def test_a_clerk_previews_but_does_not_publish_and_a_villager_sees_nothing(rworld):
    w = rworld
    clerk = login(w, "clerk")
    html = clerk.get(f"/reports/stars?village_id={w.village}&year=2026").get_data(as_text=True)
    assert 'data-testid="stars-preview"' in html and 'data-testid="stars-publish"' not in html
    token = csrf_token(clerk, "/reports/stars")
    refused = clerk.post(
        "/reports/stars/publish", data={"csrf_token": token, "village_id": w.village, "year": 2026}
    )
    assert refused.status_code == 403
    bad_year = clerk.get(f"/reports/stars?village_id={w.village}&year=abc")
    assert bad_year.status_code == 422


def test_a_deployment_admin_starts_on_a_village_and_english_works(rworld):
    w = rworld
    w.award(local(2026, 3, 1, 9), 0, 30)
    client = w.app.test_client()
    page_login(client, "root", PASSWORD)
    page = client.get("/reports/stars?year=2026")
    assert page.status_code == 200 and 'data-testid="stars-preview"' in page.get_data(as_text=True)
    english = client.get(
        f"/reports/stars?village_id={w.village}&year=2026", headers={"Accept-Language": "en"}
    )
    assert english.status_code == 200
