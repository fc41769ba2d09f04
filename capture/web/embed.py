"""`GET /embed.js`: the embed script for partner sites, versioned and cache-friendly.

Serves the minified build (`static/embed.min.js`, made by `embed/build.py` and committed). In a
checkout whose `embed/embed.js` was edited since that build (its sha256 is not the one the build
recorded), serves the readable source as written, with a warning; an installed wheel has the
build alone. `/embed.js` is cached briefly and revalidated by ETag, so a new release reaches
every site within minutes; `/embed.js?v=<hash>` names one exact build and is cached for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue

from capture.base.extensions import limiter
from capture.base.paths import EMBED_BUILT as BUILT
from capture.base.paths import EMBED_BUILT_FROM as BUILT_FROM
from capture.base.paths import EMBED_SOURCE as SOURCE
from capture.web.urls import public_url

log = logging.getLogger(__name__)
SHORT_CACHE = "public, max-age=300, must-revalidate"
IMMUTABLE = "public, max-age=31536000, immutable"

bp = Blueprint("embed", __name__)


@dataclass(frozen=True)
class Script:
    body: bytes
    gzipped: bytes
    version: str
    stamp: tuple[float, ...]


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def _built_is_current(source: Path, built: Path, built_from: Path) -> bool:
    """True when `built` was made from `source` as it is now (the sha256 `built_from` holds).

    Compared by content, not modification time: a clone or a copy sets times in any order.
    """
    if not built.exists():
        return False
    if not source.exists():
        return True  # an installed wheel: the build is all there is
    recorded = built_from.read_text().strip() if built_from.exists() else ""
    return recorded == hashlib.sha256(source.read_bytes()).hexdigest()


def load_script(key: str, source: Path, built: Path, built_from: Path, build: str) -> Script:
    """A served script (this one, or capture.tracking's `/track.js`): read once per process
    and again only when one of its files changes; `build` is named in the warning."""
    stamp = tuple(_mtime(path) for path in (source, built, built_from))
    cached: Script | None = current_app.extensions.get(key)
    if cached is not None and cached.stamp == stamp:
        return cached
    if _built_is_current(source, built, built_from):
        body = built.read_bytes()
    else:
        log.warning("serving embed/%s unminified: run embed/%s (make embed)", source.name, build)
        body = source.read_bytes()
    script = Script(
        body=body,
        gzipped=gzip.compress(body, 9, mtime=0),
        version=hashlib.sha256(body).hexdigest()[:12],
        stamp=stamp,
    )
    current_app.extensions[key] = script
    return script


def script_response(current: Script) -> ResponseReturnValue:
    """Answer with `current`: gzip when accepted, ETag, a year's cache for `?v=` of this very
    build and minutes otherwise, and open to every origin (other sites' pages load it)."""
    # The quality, not `in`: `gzip;q=0` lists gzip to refuse it.
    compressed = request.accept_encodings["gzip"] > 0
    response = Response(
        current.gzipped if compressed else current.body,
        mimetype="application/javascript",
    )
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(current.version + ("-gz" if compressed else ""))
    pinned = request.args.get("v") == current.version
    response.headers["Cache-Control"] = IMMUTABLE if pinned else SHORT_CACHE
    # Loaded by other sites' pages: allow it across origins, with or without crossorigin=.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept-Encoding")
    return response.make_conditional(request)


def current_script() -> Script:
    """The embed script to serve (module-level paths, so tests can point them elsewhere)."""
    return load_script("leadgate.embed_script", SOURCE, BUILT, BUILT_FROM, "build.py")


def embed_script_url() -> str:
    """The versioned, immutable address of the current script, for embed snippets."""
    return public_url("embed.script", v=current_script().version)


@bp.get("/embed.js")
@limiter.exempt
def script() -> ResponseReturnValue:
    return script_response(current_script())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["embed_script_url"] = embed_script_url
