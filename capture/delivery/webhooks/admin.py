"""/admin/webhooks: endpoints (add, disable, enable), each one's delivery log and re-send.

Admins only. The signing secret is shown once, on the page that answers the add.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.accounts import protect
from capture.base.db import db
from capture.delivery.outbox import OutboxMessage
from capture.delivery.webhooks.endpoint import (
    EVENTS,
    EndpointError,
    WebhookEndpoint,
    create_endpoint,
    find_endpoint,
)
from capture.delivery.webhooks.events import KIND, ResendRefused, deliveries_for, resend

bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")
protect(bp)


def _endpoint(public_id: str) -> WebhookEndpoint:
    endpoint = find_endpoint(public_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _listing(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    endpoints = db.session.scalars(db.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    page = render_template(
        "admin/webhooks/index.html",
        endpoints=endpoints,
        events=EVENTS,
        error=error,
        url=request.form.get("url", ""),
        chosen=request.form.getlist("events"),
    )
    return page, status


@bp.get("/")
def index() -> ResponseReturnValue:
    return _listing()


@bp.post("/")
def add() -> ResponseReturnValue:
    try:
        endpoint = create_endpoint(request.form.get("url", ""), request.form.getlist("events"))
    except EndpointError as exc:
        db.session.rollback()
        return _listing(str(exc), 400)
    db.session.commit()
    response = make_response(render_template("admin/webhooks/created.html", endpoint=endpoint))
    response.headers["Cache-Control"] = "no-store"  # the secret must not stay in any cache
    return response


@bp.post("/<public_id>/disable")
def disable(public_id: str) -> ResponseReturnValue:
    endpoint = _endpoint(public_id)
    endpoint.active = False
    endpoint.disabled_reason = _("disabled in the back office")
    db.session.commit()
    flash(_("Endpoint disabled: nothing more is sent to it."))
    return redirect(url_for(".index"), 303)


@bp.post("/<public_id>/enable")
def enable(public_id: str) -> ResponseReturnValue:
    endpoint = _endpoint(public_id)
    endpoint.active = True
    endpoint.disabled_reason = None
    db.session.commit()
    flash(_("Endpoint enabled. Deliveries that gave up meanwhile can be re-sent from its log."))
    return redirect(url_for(".index"), 303)


@bp.get("/<public_id>")
def log(public_id: str) -> ResponseReturnValue:
    endpoint = _endpoint(public_id)
    return render_template(
        "admin/webhooks/log.html", endpoint=endpoint, deliveries=deliveries_for(public_id)
    )


@bp.post("/<public_id>/deliveries/<message_id>/resend")
def resend_delivery(public_id: str, message_id: str) -> ResponseReturnValue:
    endpoint = _endpoint(public_id)
    row = db.session.scalar(
        db.select(OutboxMessage).where(
            OutboxMessage.public_id == message_id,
            OutboxMessage.kind == KIND,
            OutboxMessage.dedupe_key.like(f"wh:{endpoint.public_id}:%"),
        )
    )
    if row is None:
        abort(404)
    try:
        resend(row)
    except ResendRefused as exc:
        db.session.rollback()
        flash(_("Not re-sent: %(why)s", why=str(exc)), "error")
        return redirect(url_for(".log", public_id=public_id), 303)
    db.session.commit()
    flash(_("Queued again with the same webhook-id (%(id)s).", id=row.payload["webhook_id"]))
    return redirect(url_for(".log", public_id=public_id), 303)
