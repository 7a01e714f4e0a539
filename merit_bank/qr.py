"""QR code rendering (PNG and SVG), safe to call from many threads at once."""

from __future__ import annotations

import base64
import io
import threading

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

# qrcode 8.2 keeps shared module state while it builds a matrix (upstream issue #421), so two
# threads of one gunicorn worker can corrupt each other's codes; one lock per process prevents it.
_lock = threading.Lock()


def _build(data: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(data, optimize=0)
    code.make(fit=True)
    return code


def qr_version(data: str) -> int:
    with _lock:
        return _build(data).version


def qr_png(data: str, box_size: int = 10) -> bytes:
    with _lock:
        code = _build(data)
        code.box_size = box_size
        image = code.make_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(data: str) -> bytes:
    with _lock:
        code = _build(data)
        image = code.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode").encode()


def png_data_uri(png: bytes) -> str:
    """A PNG as a data: URI, to travel inside its page (the CSP allows data: images)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
