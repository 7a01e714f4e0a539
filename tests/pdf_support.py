"""Reading printed PDFs back in tests: their text (pypdfium2) and the QR codes on their pages (zxing-cpp)."""

from __future__ import annotations

import re

import pypdfium2
import zxingcpp


def pdf_pages_text(data: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(data)
    try:
        return [document[index].get_textpage().get_text_range() for index in range(len(document))]
    finally:
        document.close()


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages_text(data))


def pdf_qr_codes(data: bytes, scale: float = 3.0) -> list[str]:
    """Every QR code's text, page by page, read from the rendered pages like a phone camera would."""
    document = pypdfium2.PdfDocument(data)
    try:
        found: list[str] = []
        for index in range(len(document)):
            image = document[index].render(scale=scale).to_pil()
            found.extend(result.text for result in zxingcpp.read_barcodes(image))
        return found
    finally:
        document.close()


def embedded_font_files(data: bytes) -> int:
    """How many font programs the PDF carries (FontFile, FontFile2 or FontFile3 entries)."""
    return len(re.findall(rb"/FontFile[23]?\b", data))
