"""Tracking: page views on the customer's own site, only for visitors who consented.

`consent` reads and withdraws the `tracking` purpose on the ledger; `token` signs which lead a
browser is (in a submission's answer, and as `lg_t` on e-mail links); `activity` is
`POST /api/v1/activity`, scored through the page rules of the scoring configuration; `script`
serves `/track.js`. See docs/tracking.md.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from capture import extension_points
from capture.submissions.record import Accepted
from capture.tracking import activity, script
from capture.tracking.consent import GIVEN, TRACKING
from capture.tracking.token import issue_tracking_token, tracked_url


def tracking_answer(accepted: Accepted) -> dict[str, Any] | None:
    """The answer to a submission carries a tracking token only when tracking was agreed to."""
    if not any(r.purpose == TRACKING and r.status in GIVEN for r in accepted.consents):
        return None
    token = issue_tracking_token(
        accepted.lead.public_id, accepted.intake.form.slug, accepted.intake.language
    )
    return {"tracking_token": token}


def init_app(app: Flask) -> None:
    app.register_blueprint(activity.bp)
    app.register_blueprint(script.bp)
    extension_points.submission_accepted.connect(app, tracking_answer)
    app.jinja_env.globals["tracked_url"] = tracked_url
    app.jinja_env.globals["track_script_url"] = script.track_script_url
