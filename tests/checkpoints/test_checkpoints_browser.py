"""In Chromium, in Chinese: the 公示栏 shows the latest checkpoint's fingerprint on the phone and on
the printed A4 sheet, and the public verification page shows the chain, with no login."""

from __future__ import annotations

import pytest

from merit_bank.checkpoints import services as checkpoints
from merit_bank.checkpoints import signing
from tests.checkpoints.checkpoint_helpers import post_some, seed_village

pytestmark = pytest.mark.browser


def test_the_board_page_and_its_print_show_the_ledger_fingerprint_in_chinese(
    live_server, browser_page, tmp_path
):
    app = live_server.app
    seeded = seed_village(app)
    post_some(app, seeded, "d1")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["checkpoint"]).exit_code == 0
    with app.app_context():
        (checkpoint,) = checkpoints.checkpoints_of(seeded.village_id)
        expected = signing.grouped(signing.fingerprint(checkpoint.hash))
        seq, day = checkpoint.seq, checkpoint.at[:10]

    page = browser_page
    response = page.goto(f"{live_server.url}/board/{seeded.code}")
    assert response.status == 200
    box = page.locator("[data-testid=ledger-fingerprint]")
    assert box.is_visible()
    text = box.text_content()
    assert "账本指纹" in text
    assert page.text_content("[data-testid=fingerprint-seq]").strip() == f"第 {seq} 笔"
    assert page.text_content("[data-testid=fingerprint-code]").strip() == expected
    assert page.text_content("[data-testid=fingerprint-day]").strip() == day
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(tmp_path / "board-fingerprint-phone.png"), full_page=True)

    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    assert box.is_visible()
    assert page.text_content("[data-testid=fingerprint-code]").strip() == expected
    # The link to the verification page is for screens; the printed sheet keeps the fingerprint itself.
    assert not box.locator("a").is_visible()
    page.screenshot(path=str(tmp_path / "board-fingerprint-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF")

    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 360, "height": 740})
    box.locator("a").click()
    page.wait_for_selector("[data-testid=verify-ledger]")
    assert page.url.endswith(f"/board/{seeded.code}/ledger")
    assert "账本核验" in page.text_content("h1")
    assert page.text_content("[data-testid=chain-length]").strip() == str(seq)
    assert page.text_content("[data-testid=chain-head]").strip() == checkpoint.hash
    assert page.locator("[data-testid=checkpoint-row]").count() == 1
    export = page.get_attribute("[data-testid=export-link]", "href")
    assert export == f"/api/v1/public/villages/{seeded.code}/ledger.jsonl"
    page.screenshot(path=str(tmp_path / "verify-page.png"), full_page=True)
