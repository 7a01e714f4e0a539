"""Evidence photos for claims: images only, size-limited, stored as files outside the database."""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import IO

from flask import current_app

from ..errors import ValidationFailed
from ..i18n import request_gettext as _

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
# Only raster formats a phone camera produces; never SVG (a script could hide in it).
_SIGNATURES = (
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
)
_TYPES = {ext: mime for _sig, ext, mime in _SIGNATURES} | {"webp": "image/webp"}


def _folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sniff(head: bytes) -> tuple[str, str] | None:
    for signature, ext, mime in _SIGNATURES:
        if head.startswith(signature):
            return ext, mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", "image/webp"
    return None


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(detail=message, errors={"photo": [message]})


def save_photo(stream: IO[bytes]) -> tuple[str, str]:
    """Check that the upload is a real image within the size limit and store it; returns (name, type)."""
    from PIL import Image, UnidentifiedImageError

    limit = int(current_app.config.get("CLAIM_PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES))
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _refuse(_("The photo is larger than %(n)d MB.", n=max(1, limit // (1024 * 1024))))
    if not data:
        raise _refuse(_("The photo is empty."))
    sniffed = _sniff(data[:16])
    if sniffed is None:
        raise _refuse(_("Only JPEG, PNG, GIF or WebP photos are accepted."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse(_("The photo could not be read as an image.")) from exc
    ext, mime = sniffed
    name = f"{secrets.token_hex(16)}.{ext}"
    (_folder() / name).write_bytes(data)
    return name, mime


def photo_path(name: str) -> Path | None:
    """The stored file of a photo name, or None when it is missing or the name is not ours."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = _folder() / name
    return path if path.is_file() else None


def delete_photo(name: str | None) -> None:
    """Remove a stored photo (used when the claim it came with was refused)."""
    if name:
        path = photo_path(name)
        if path is not None:
            path.unlink(missing_ok=True)


def mimetype_of(name: str) -> str:
    return _TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
