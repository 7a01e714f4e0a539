"""Printable PDFs: A4, CJK font embedded as a subset, QR codes that decode, a clear refusal without it."""

from __future__ import annotations

import pytest

from merit_bank.pdf import Document, FontChoice, PdfFontMissing, find_font
from tests.pdf_support import embedded_font_files, pdf_qr_codes, pdf_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_document_embeds_a_subset_of_the_chinese_font_and_reads_back():
    document = Document("星级文明户证书")
    document.page()
    document.heading("星级文明户")
    document.text("张三户 荣获 2026 年度 ★★★ 三星级文明户")
    document.table([["张三", "128", "3"]], header=["户主", "积分", "星级"], widths=[0.5, 0.25, 0.25])
    data = document.output()

    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert "张三户" in text and "三星级文明户" in text and "128" in text
    assert embedded_font_files(data) >= 1
    # A subset, not the whole 16 MB collection: a page of text stays small.
    assert len(data) < 200_000
    assert b"/MediaBox [0 0 595.28 841.89]" in data  # A4 in points


def test_a_qr_code_in_a_pdf_decodes():
    document = Document("QR")
    document.page()
    document.qr("https://example.org/public/villages/V001/checkpoints", size=40)
    document.text("扫码核验")
    assert pdf_qr_codes(document.output()) == ["https://example.org/public/villages/V001/checkpoints"]


def test_the_collection_face_is_simplified_chinese():
    choice = find_font()
    assert isinstance(choice, FontChoice)
    if choice.path.endswith("NotoSansCJK-Regular.ttc"):
        assert choice.index == 2  # JP, KR, SC, TC, HK: SC is the third face


def test_a_missing_font_is_a_clear_refusal(tmp_path):
    with pytest.raises(PdfFontMissing) as missing:
        find_font(str(tmp_path / "nope.ttc"))
    assert missing.value.status == 503 and missing.value.code == "pdf-font-missing"
    not_a_font = tmp_path / "not-a-font.ttf"
    not_a_font.write_bytes(b"hello")
    with pytest.raises(PdfFontMissing):
        Document("x", font=FontChoice(str(not_a_font), 0))


def test_the_pdf_font_setting_is_used(app, tmp_path):
    app.config["PDF_FONT"] = str(tmp_path / "missing.otf")
    with app.app_context(), pytest.raises(PdfFontMissing):
        find_font()
