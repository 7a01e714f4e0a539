"""Printable A4 documents (certificates, statements) with an embedded, subset Chinese font.

fpdf2 embeds only the glyphs a document uses (through fontTools), so a village's whole PDF stays small
and prints the same on any machine, whatever fonts it has.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flask import Response, current_app, has_app_context
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .errors import DomainError
from .qr import qr_png

# Where Debian/Ubuntu (fonts-noto-cjk, fonts-wqy-*, fonts-arphic-*), Fedora and Arch put a CJK font.
DEFAULT_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-vf-fonts/NotoSansCJK-VF.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FONT_FAMILY = "cjk"
A4_WIDTH_MM = 210.0
A4_HEIGHT_MM = 297.0
MARGIN_MM = 18.0


class PdfFontMissing(DomainError):
    """No Chinese font on this server: a deployment problem, said plainly rather than as a 500."""

    status = 503
    code = "pdf-font-missing"


@dataclass(frozen=True)
class FontChoice:
    path: str
    index: int  # the face inside a .ttc collection; 0 for a single font file


_face_cache: dict[str, int] = {}
_face_lock = threading.Lock()


def _simplified_chinese_face(path: str) -> int:
    """The Simplified Chinese face of a collection (Noto CJK holds JP, KR, SC, TC, HK), else the first."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    with _face_lock:
        if path not in _face_cache:
            from fontTools.ttLib import TTCollection

            index = 0
            try:
                with TTCollection(path, lazy=True) as collection:
                    for number, font in enumerate(collection.fonts):
                        family = font["name"].getDebugName(1) or ""
                        if family.endswith((" SC", " CN", " GB")) and "Mono" not in family:
                            index = number
                            break
            except Exception:  # not a readable collection: Document() says so when it loads the font
                return 0
            _face_cache[path] = index
        return _face_cache[path]


def find_font(setting: str | None = None) -> FontChoice:
    """The font to embed: PDF_FONT (a path, optionally `path#N` for face N of a collection), else a search.

    Raises PdfFontMissing, naming what was tried, when there is none.
    """
    if setting is None and has_app_context():
        setting = current_app.config.get("PDF_FONT") or None
    if setting:
        path, _, face = setting.partition("#")
        if not os.path.isfile(path):
            raise PdfFontMissing(
                detail=_l(
                    "The PDF font %(path)s (setting PDF_FONT) does not exist on this server.", path=path
                )
            )
        if face:
            if not face.isdigit():
                raise PdfFontMissing(detail=_l("PDF_FONT must be a path, optionally followed by #N."))
            return FontChoice(path, int(face))
        return FontChoice(path, _simplified_chinese_face(path))
    for path in DEFAULT_FONT_PATHS:
        if os.path.isfile(path):
            return FontChoice(path, _simplified_chinese_face(path))
    raise PdfFontMissing(
        detail=_l(
            "No Chinese font found for printing. Install one (Debian: apt-get install fonts-noto-cjk) "
            "or set PDF_FONT to a .ttf, .otf or .ttc file."
        )
    )


class Document:
    """An A4 portrait document with the Chinese font set; `pdf` is the fpdf2 object for anything more."""

    def __init__(self, title: str, *, font: FontChoice | None = None, author: str = "") -> None:
        chosen = font or find_font()
        self.pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        self.pdf.set_title(title)
        self.pdf.set_creator("Merit Bank")
        if author:
            self.pdf.set_author(author)
        self.pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        self.pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
        try:
            self.pdf.add_font(FONT_FAMILY, fname=chosen.path, collection_font_number=chosen.index)
        except Exception as exc:  # an unreadable or non-font file named by PDF_FONT
            raise PdfFontMissing(
                detail=_l(
                    "The PDF font %(path)s could not be read: %(error)s", path=chosen.path, error=str(exc)
                )
            ) from exc
        self.pdf.set_font(FONT_FAMILY, size=12)

    @property
    def width(self) -> float:
        """The printable width between the margins, in mm."""
        return self.pdf.epw

    def page(self) -> None:
        self.pdf.add_page()

    def heading(self, text: str, size: float = 22, *, align: str = "C", space_after: float = 4) -> None:
        self.pdf.set_font(FONT_FAMILY, size=size)
        self.pdf.multi_cell(0, size * 0.5, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(space_after)
        self.pdf.set_font(FONT_FAMILY, size=12)

    def text(
        self, text: str, size: float = 12, *, align: str = "L", line_height: float | None = None
    ) -> None:
        self.pdf.set_font(FONT_FAMILY, size=size)
        self.pdf.multi_cell(
            0, line_height or size * 0.55, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.pdf.set_font(FONT_FAMILY, size=12)

    def space(self, mm: float) -> None:
        self.pdf.ln(mm)

    def table(
        self,
        rows: Sequence[Sequence[object]],
        *,
        header: Sequence[str] | None = None,
        widths: Sequence[float] | None = None,
        aligns: Sequence[str] | None = None,
        size: float = 10,
    ) -> None:
        """A ruled table; the header repeats on each new page. Widths are fractions of the page width."""
        count = len(header) if header else (len(rows[0]) if rows else 0)
        if not count:
            return
        fractions = list(widths) if widths else [1 / count] * count
        columns = [self.width * fraction for fraction in fractions]
        column_aligns = list(aligns) if aligns else ["L"] * count
        height = size * 0.7
        self.pdf.set_font(FONT_FAMILY, size=size)

        def draw_header() -> None:
            if not header:
                return
            self.pdf.set_fill_color(235, 235, 235)
            for label, width in zip(header, columns, strict=True):
                self.pdf.cell(width, height, str(label), border=1, align="C", fill=True)
            self.pdf.ln(height)

        draw_header()
        for row in rows:
            if self.pdf.will_page_break(height):
                self.pdf.add_page()
                draw_header()
            for value, width, align in zip(row, columns, column_aligns, strict=True):
                self.pdf.cell(width, height, "" if value is None else str(value), border=1, align=align)
            self.pdf.ln(height)
        self.pdf.set_font(FONT_FAMILY, size=12)

    def qr(self, data: str, *, x: float | None = None, y: float | None = None, size: float = 30) -> None:
        """A QR code of `data`, `size` mm square, at (x, y) or at the cursor (which then moves below it)."""
        image = io.BytesIO(qr_png(data, box_size=8))
        at_cursor = y is None
        self.pdf.image(
            image, x=x if x is not None else self.pdf.x, y=y if y is not None else self.pdf.y, w=size
        )
        if at_cursor:
            self.pdf.ln(size)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def pdf_response(data: bytes, filename: str, *, inline: bool = True) -> Response:
    """A PDF download; the filename is ASCII so every browser keeps it."""
    response = Response(data, mimetype="application/pdf")
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{Path(filename).name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
