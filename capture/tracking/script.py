"""`GET /track.js`: the tracking script for customers' sites, its own file beside the embed.

Served like `/embed.js` (capture.web.embed): the committed minified build
(`static/track.min.js`, made by `embed/build_track.py`), or the readable source with a warning in
a checkout whose source changed since; `/track.js` is cached briefly and revalidated by ETag,
`/track.js?v=<hash>` names one exact build and is cached for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from capture.base.extensions import limiter
from capture.base.paths import FILES, STATIC
from capture.web.embed import IMMUTABLE, SHORT_CACHE, Script
from capture.web.urls import public_url

log = logging.getLogger(__name__)
SOURCE = FILES / "embed" / "track.js"  # in a checkout only
BUILT = STATIC / "track.min.js"
BUILT_FROM = FILES / "embed" / "track.min.js.sha256"
EXTENSION = "leadgate.track_script"

bp = Blueprint("track", __name__)


def _stamp() -> tuple[float, ...]:
    return tuple(path.stat().st_mtime if path.exists() else 0.0 for path in (SOURCE, BUILT))


def _built_is_current(source: Path = SOURCE) -> bool:
    if not BUILT.exists():
        return False
    if not source.exists():
        return True  # an installed wheel: the build is all there is
    recorded = BUILT_FROM.read_text().strip() if BUILT_FROM.exists() else ""
    return recorded == hashlib.sha256(source.read_bytes()).hexdigest()


def current_track_script() -> Script:
    """The script to serve, read once per process and again only when a file changes."""
    stamp = _stamp()
    cached: Script | None = current_app.extensions.get(EXTENSION)
    if cached is not None and cached.stamp == stamp:
        return cached
    if _built_is_current():
        body = BUILT.read_bytes()
    else:
        log.warning("serving embed/track.js unminified: run embed/build_track.py (make embed)")
        body = SOURCE.read_bytes()
    script = Script(
        body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:12], stamp
    )
    current_app.extensions[EXTENSION] = script
    return script


def track_script_url() -> str:
    """The versioned, immutable address of the current script, for snippets."""
    return public_url("track.script", v=current_track_script().version)


@bp.get("/track.js")
@limiter.exempt
def script() -> ResponseReturnValue:
    current = current_track_script()
    compressed = request.accept_encodings["gzip"] > 0
    response = Response(
        current.gzipped if compressed else current.body, mimetype="application/javascript"
    )
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(current.version + ("-gz" if compressed else ""))
    pinned = request.args.get("v") == current.version
    response.headers["Cache-Control"] = IMMUTABLE if pinned else SHORT_CACHE
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept-Encoding")
    return response.make_conditional(request)
