"""Static files for slow links: content-hashed URLs cached for a year, gzip for text, and the favicon.

`url_for('static', filename=...)` gets `?v=<hash of the file's content>` (an app-wide url_defaults hook, so
no template spells it). A request whose `v` is the file's current hash is answered as immutable for a year: a
page seen before costs no round trip for its stylesheet or scripts. A change to a file changes its hash and so
its URL. Any other request (no `v`, or the hash of an older version) gets a short cache, since that URL's
content may still change.

Only static files are compressed, never the HTML pages: those carry CSRF tokens, household codes and card
images, and compressing a secret next to text an attacker can reflect into the page (a query string, a form
value) lets them guess it byte by byte from the response sizes (BREACH). Pages are small (a few KB); a TLS
proxy in front must not compress them either (see README, "Running in production").
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any

from flask import Flask, Response, abort, request
from werkzeug.security import safe_join

HASH_PARAM = "v"
IMMUTABLE = "public, max-age=31536000, immutable"
# Un-fingerprinted URLs (typed by hand, or an old page's): short, so a changed file is seen within minutes.
SHORT = "public, max-age=300"
# Text compresses well; images and fonts are compressed already.
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
_MIN_SIZE = 256  # below this gzip's own header eats most of the gain


@dataclass(frozen=True)
class _Entry:
    stamp: tuple[int, int]  # (mtime_ns, size): the entry is rebuilt when the file changes
    digest: str
    mimetype: str
    body: bytes
    gzipped: bytes | None


class StaticFiles:
    """Hashes and compressed copies of the files under one folder, kept in memory and renewed on change."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = str(folder)
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def entry(self, filename: str) -> _Entry | None:
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except (OSError, ValueError):
            return None
        if not S_ISREG(stat.st_mode):
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        entry = self._entries.get(path)
        if entry is not None and entry.stamp == stamp:
            return entry
        with self._lock:
            entry = self._entries.get(path)
            if entry is None or entry.stamp != stamp:
                entry = self._load(Path(path), stamp)
                self._entries[path] = entry
        return entry

    def digest(self, filename: str) -> str | None:
        entry = self.entry(filename)
        return entry.digest if entry else None

    @staticmethod
    def _load(path: Path, stamp: tuple[int, int]) -> _Entry:
        body = path.read_bytes()
        # Response adds "; charset=utf-8" to text types itself.
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        gzipped = None
        if len(body) >= _MIN_SIZE and mimetype.startswith(_COMPRESSIBLE):
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            gzipped = packed if len(packed) < len(body) * 0.9 else None
        return _Entry(stamp, hashlib.sha256(body).hexdigest()[:12], mimetype, body, gzipped)

    def response(self, filename: str) -> Response:
        entry = self.entry(filename)
        if entry is None:
            abort(404)
        fingerprinted = request.args.get(HASH_PARAM) == entry.digest
        use_gzip = entry.gzipped is not None and request.accept_encodings.quality("gzip") > 0
        response = Response(entry.gzipped if use_gzip else entry.body, mimetype=entry.mimetype)
        if use_gzip:
            response.headers["Content-Encoding"] = "gzip"
        if entry.gzipped is not None:
            response.vary.add("Accept-Encoding")
        response.headers["Cache-Control"] = IMMUTABLE if fingerprinted else SHORT
        response.set_etag(entry.digest + ("-gz" if use_gzip else ""))
        # Answers If-None-Match with 304 and Range with 206 (on the bytes actually sent).
        return response.make_conditional(request, accept_ranges=True)


def register(app: Flask) -> None:
    files = StaticFiles(app.static_folder or "static")
    app.extensions["merit_bank.static_files"] = files

    @app.url_defaults
    def _fingerprint(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and HASH_PARAM not in values and isinstance(values.get("filename"), str):
            digest = files.digest(values["filename"])
            if digest is not None:
                values[HASH_PARAM] = digest

    # Flask's own static view sends `no-cache` and nothing compressed; this one replaces it, same URLs.
    app.view_functions["static"] = files.response

    # Browsers ask for /favicon.ico on their own where a page names no icon (and some ask anyway).
    @app.get("/favicon.ico")
    def favicon() -> Response:
        return files.response("favicon.ico")
