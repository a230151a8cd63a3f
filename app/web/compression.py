"""Compressed answers (Flask-Compress): HTML, CSS, JavaScript, JSON and SVG, as the browser accepts.

Brotli first, then zstd, gzip, deflate, whichever the request's Accept-Encoding allows.
CSV exports (streamed row by row) and backups (encrypted, incompressible) are not among the
types, so they stream untouched. A strong ETag gets the coding appended (`"…:br"`) and the
conditional request is evaluated again on the compressed answer, so 304s keep working.
Fingerprinted static files (app/web/assets.py) are compressed once per worker and kept: the
cache below holds those alone, keyed by their fingerprinted URL.
"""
from __future__ import annotations

from flask import Flask, Request
from flask_compress import Compress

from app.web.assets import FINGERPRINTED
from app.web.headers import STATIC_ENDPOINTS

TYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "image/vnd.microsoft.icon",
    "image/x-icon",
]
NOT_KEPT = ""  # the cache key of every other answer (pages differ by user and request)
# Brotli quality 3, not Flask-Compress's 4: a page is compressed on every request, and on a 65 KB
# list page 3 takes half the CPU of 4 (0.24 vs 0.57 ms) for 7 % more bytes (10.0 vs 9.3 KB).
# Fingerprinted files are compressed once per worker and cached by browsers for a year.
BR_LEVEL = 3


def fingerprinted_key(request: Request) -> str:
    """The cache key of a fingerprinted static file (its URL), else NOT_KEPT."""
    filename = (request.view_args or {}).get("filename", "")
    if request.endpoint in STATIC_ENDPOINTS and FINGERPRINTED.match(filename):
        return request.path
    return NOT_KEPT


class FingerprintedCache:
    """Flask-Compress's cache backend, keeping only fingerprinted files (their content never changes)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.partition(";")[2] != NOT_KEPT:
            self.data[key] = value


def init_compression(app: Flask) -> Compress:
    """Flask-Compress with the types and algorithms above (its hook is placed by app/web/hooks.py)."""
    app.config.setdefault("COMPRESS_MIMETYPES", TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "zstd", "gzip", "deflate"])
    app.config.setdefault("COMPRESS_BR_LEVEL", BR_LEVEL)
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "zstd", "deflate"])
    app.config.setdefault("COMPRESS_STREAMING_ENDPOINT_CONDITIONAL", sorted(STATIC_ENDPOINTS))
    app.config.setdefault("COMPRESS_CACHE_BACKEND", FingerprintedCache)
    app.config.setdefault("COMPRESS_CACHE_KEY", fingerprinted_key)
    return Compress(app)
