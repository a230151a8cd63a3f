"""Static files under fingerprinted names, cached a year; every `url_for` of a static file gives that name.

`url_for('static', filename='lists.css')` builds `/static/crm/lists.<hash>.css`, the hash being
the first 12 hex digits of the SHA-256 of the file's content, so a browser keeps the file for a
year (`immutable`) and a new version gets a new URL. The same holds for FAB's static folder
(`appbuilder.static`).
A stylesheet's relative `url(…)` references (fonts, images) are rewritten to their fingerprinted
names too, so its hash changes when they do. Hashes are computed on first use and again when a
file's size or modification time changes: the app's manifests look at a file at most once every
RECHECK_S (a page names twenty files; a `stat` per `url_for` was a measurable share of a list page). The plain names keep
working, revalidated on every use (`no-cache` with an ETag); so does a stale fingerprint, which
gets today's file that way rather than a 404 during a rolling upgrade.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from stat import S_ISREG
from typing import Any

from flask import Flask, Response, has_request_context, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.security import safe_join

from app.web.headers import STATIC_ENDPOINTS

ONE_YEAR = 365 * 24 * 3600
HASH_LENGTH = 12
FINGERPRINTED = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})(?P<ext>\.[A-Za-z0-9]+)$")
CSS_URL = re.compile(r"""url\(\s*(?P<quote>['"]?)(?P<ref>[^'")]+?)(?P=quote)\s*\)""")
COOKIE_REFRESH = timedelta(seconds=60)  # an unchanged session's cookie is sent again after this long
RECHECK_S = 2.0  # the app's manifests: a file's fingerprinted name is reused this long before a new stat


@dataclass(frozen=True)
class Asset:
    """One static file's content hash; `body` is kept only when it differs from the file (rewritten CSS)."""

    path: Path
    stat_key: tuple[int, int]
    digest: str
    body: bytes | None
    needs: tuple[tuple[str, str], ...] = ()  # a stylesheet's referenced files and their digests

    def fingerprinted(self, filename: str) -> str:
        stem, ext = os.path.splitext(filename)
        return f"{stem}.{self.digest}{ext}"

    def read(self) -> bytes:
        return self.body if self.body is not None else self.path.read_bytes()


class Manifest:
    """The assets of one static folder, hashed on first use and again when a file changes."""

    def __init__(self, folder: str | Path, recheck_s: float = 0.0) -> None:
        self.folder = str(folder)
        self.recheck_s = recheck_s  # url_name's answer is reused this long (0: a stat per call)
        self._assets: dict[str, Asset] = {}
        self._names: dict[str, tuple[str, float]] = {}

    def asset(self, filename: str) -> Asset | None:
        """The asset of `filename` (relative to the folder), or None when there is no such file."""
        joined = safe_join(self.folder, filename)
        if joined is None:
            return None
        path = Path(joined)
        try:
            stat = path.stat()
        except OSError:
            return None
        if not S_ISREG(stat.st_mode):  # from the one stat a url_for costs, not a second
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        known = self._assets.get(filename)
        if known is not None and known.stat_key == key and all(
                getattr(self.asset(name), "digest", None) == digest for name, digest in known.needs):
            return known
        content = path.read_bytes()
        needs: list[tuple[str, str]] = []
        body = self._rewrite_css(filename, content, needs) if filename.endswith(".css") else None
        digest = hashlib.sha256(body if body is not None else content).hexdigest()[:HASH_LENGTH]
        asset = Asset(path, key, digest, body if body != content else None, tuple(needs))
        self._assets[filename] = asset
        return asset

    def url_name(self, filename: str) -> str:
        """`filename` fingerprinted, or unchanged when it names no file here."""
        now = time.monotonic()
        known = self._names.get(filename)
        if known is not None and now - known[1] < self.recheck_s:
            return known[0]
        asset = self.asset(filename)
        name = asset.fingerprinted(filename) if asset is not None else filename
        if self.recheck_s:
            self._names[filename] = (name, now)
        return name

    def _rewrite_css(self, filename: str, content: bytes, needs: list[tuple[str, str]]) -> bytes:
        """The stylesheet with its relative url(…) references under their fingerprinted names."""
        text = content.decode("utf-8", errors="surrogateescape")
        base = os.path.dirname(filename)

        def replace(match: re.Match[str]) -> str:
            ref = match["ref"]
            if ref.startswith(("data:", "/", "#")) or "://" in ref:
                return match.group(0)
            cut = min((i for i in (ref.find("?"), ref.find("#")) if i >= 0), default=len(ref))
            target, suffix = ref[:cut], ref[cut:]
            resolved = os.path.normpath(os.path.join(base, target)).replace(os.sep, "/")
            if resolved.startswith("..") or resolved == filename:
                return match.group(0)
            asset = self.asset(resolved)
            if asset is None:
                return match.group(0)
            needs.append((resolved, asset.digest))
            return f"url({match['quote']}{asset.fingerprinted(target)}{suffix}{match['quote']})"

        return CSS_URL.sub(replace, text).encode("utf-8", errors="surrogateescape")


def immutable_response(asset: Asset, filename: str) -> Response:
    """The asset's content, cacheable by anyone for a year and never revalidated."""
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = Response(asset.read(), mimetype=mimetype)
    response.cache_control.public = True
    response.cache_control.max_age = ONE_YEAR
    response.cache_control.immutable = True
    response.set_etag(asset.digest)
    response.last_modified = asset.stat_key[1] / 1e9
    return response.make_conditional(request)


def serving(manifest: Manifest, plain: Callable[..., Any]) -> Callable[..., Any]:
    """A static endpoint's view: fingerprinted names from the manifest, every other name as before."""

    def send_static(filename: str, **kwargs: Any) -> Any:
        match = FINGERPRINTED.match(filename)
        if match is not None:
            original = match["stem"] + match["ext"]
            asset = manifest.asset(original)
            if asset is not None:
                if asset.digest == match["hash"]:
                    return immutable_response(asset, original)
                return plain(filename=original, **kwargs)  # a stale fingerprint: today's file, revalidated
        return plain(filename=filename, **kwargs)

    send_static.__name__ = getattr(plain, "__name__", "send_static")
    return send_static


def asset_urls() -> Callable[[str, str], str]:
    """The layout's `asset_url(endpoint, filename)`: url_for of a static file, reused RECHECK_S.

    The layout names twenty files on every page; building each URL through the router was a
    measurable share of a list page. The URL depends only on the file and the app's mount point.
    """
    known: dict[tuple[str, str, str], tuple[str, float]] = {}

    def asset_url(endpoint: str, filename: str) -> str:
        key = (endpoint, filename, request.script_root if has_request_context() else "")
        now = time.monotonic()
        found = known.get(key)
        if found is None or now - found[1] >= RECHECK_S:
            found = known[key] = (url_for(endpoint, filename=filename), now)
        return found[0]

    return asset_url


class NoCookieOnStaticFiles(SecureCookieSessionInterface):
    """Flask's session cookie, left off static files' answers (neither Set-Cookie nor `Vary: Cookie`),
    and an unchanged session's cookie sent again at most once every COOKIE_REFRESH_S.

    Static files are the same for everyone and cached publicly: a refreshed session cookie on them
    would be stored with them, and `Vary: Cookie` made the browser revalidate them whenever it changed.
    A signed-in session is permanent, and Flask (SESSION_REFRESH_EACH_REQUEST) serialized, signed and
    sent it again on every answer only to move its expiry forward; its idle timeout and lifetime are
    kept on the server (app/security/sessions.py), so the cookie's expiry moving by the minute, like
    `user_sessions.last_seen_at`, changes nothing for the user.
    """

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        """Flask's, also noting when the cookie was signed (`signed_at`) for `should_set_cookie`."""
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data, signed_at = signer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()),
                                           return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        if session.modified:
            return True
        signed_at = getattr(session, "signed_at", None)
        return (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]
                and (signed_at is None or datetime.now(timezone.utc) - signed_at >= COOKIE_REFRESH))

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if request.endpoint in STATIC_ENDPOINTS:
            return
        super().save_session(app, session, response)


def init_assets(app: Flask) -> dict[str, Manifest]:
    """Fingerprinted URLs and year-long caching for the app's and FAB's static files."""
    folders = {"static": app.static_folder}
    for name, blueprint in app.blueprints.items():
        if blueprint.has_static_folder and f"{name}.static" in app.view_functions:
            folders[f"{name}.static"] = blueprint.static_folder
    manifests = {endpoint: Manifest(folder, RECHECK_S) for endpoint, folder in folders.items() if folder}
    for endpoint, manifest in manifests.items():
        app.view_functions[endpoint] = serving(manifest, app.view_functions[endpoint])

    @app.url_defaults
    def fingerprint_static(endpoint: str, values: dict[str, Any]) -> None:
        manifest = manifests.get(endpoint)
        filename = values.get("filename")
        if manifest is not None and isinstance(filename, str) and not FINGERPRINTED.match(filename):
            values["filename"] = manifest.url_name(filename)

    app.jinja_env.globals["asset_url"] = asset_urls()
    assert type(app.session_interface) is SecureCookieSessionInterface, "another session interface: review"
    app.session_interface = NoCookieOnStaticFiles()
    app.extensions["crm_assets"] = manifests
    return manifests
