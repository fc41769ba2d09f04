"""`GET /track.js`: the tracking script for customers' sites, its own file beside the embed.

Served as `/embed.js` is, by the same code (capture.web.embed): the committed minified build
(`static/track.min.js`, made by `embed/build_track.py`), or the readable source with a warning in
a checkout whose source changed since; `/track.js` is cached briefly and revalidated by ETag,
`/track.js?v=<hash>` names one exact build and is cached for a year.
"""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from capture.base.extensions import limiter
from capture.base.paths import FILES, STATIC
from capture.web.embed import Script, load_script, script_response
from capture.web.urls import public_url

SOURCE = FILES / "embed" / "track.js"  # in a checkout only
BUILT = STATIC / "track.min.js"
BUILT_FROM = FILES / "embed" / "track.min.js.sha256"

bp = Blueprint("track", __name__)


def current_track_script() -> Script:
    return load_script("leadgate.track_script", SOURCE, BUILT, BUILT_FROM, "build_track.py")


def track_script_url() -> str:
    """The versioned, immutable address of the current script, for snippets."""
    return public_url("track.script", v=current_track_script().version)


@bp.get("/track.js")
@limiter.exempt
def script() -> ResponseReturnValue:
    return script_response(current_track_script())
