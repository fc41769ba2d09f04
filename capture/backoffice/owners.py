"""Lead owners in the back office: admins reassign a lead (kept on its timeline), and the
owner changes routing or people made show on the lead's timeline."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField

from capture import extension_points
from capture.accounts import Role, User, protect
from capture.backoffice.timeline import Event
from capture.base.db import db
from capture.leads.lead import Lead
from capture.routing import changes_of, set_owner

# Reassigning changes who is notified and who works the lead: admins only.
bp = Blueprint("ownership", __name__, url_prefix="/admin/ownership")
protect(bp)


def sales_users() -> list[User]:
    """Who may own leads: active sales users, by address."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role == Role.SALES.value, User.active.is_(True))
            .order_by(User.email)
        )
    )


def owns_leads(user: User) -> bool:
    """Whether `user` owns any lead (one probe of ix_leads_owner_id)."""
    owned = sa.select(Lead.id).where(Lead.owner_id == user.id, Lead.erased_at.is_(None))
    return db.session.scalar(owned.limit(1)) is not None


class OwnerForm(FlaskForm):
    owner = SelectField(_l("Owner"), choices=[])

    @classmethod
    def for_lead(cls, lead: Lead, formdata: object = None) -> OwnerForm:
        form = cls(owner=lead.owner_public_id or "") if formdata is None else cls()
        form.owner.choices = [("", _("Nobody"))] + [
            (user.public_id, user.email) for user in sales_users()
        ]
        return form


def owner_form(lead: Lead) -> OwnerForm | None:
    """The reassign form for the lead page, for admins; None for everyone else."""
    return OwnerForm.for_lead(lead, formdata=None) if current_user.role == Role.ADMIN else None


@bp.post("/<lead_id>")
def reassign(lead_id: str) -> ResponseReturnValue:
    lead = db.session.scalar(
        sa.select(Lead).where(Lead.public_id == lead_id[:40], Lead.erased_at.is_(None))
    )
    if lead is None:
        abort(404)
    form = OwnerForm.for_lead(lead, formdata=True)
    if not form.validate_on_submit():
        flash(_("Not reassigned: choose an active sales user, or nobody."))
        return redirect(url_for("leads.show", lead_id=lead.public_id), 303)
    chosen = form.owner.data or None
    owner = db.session.scalar(sa.select(User).where(User.public_id == chosen)) if chosen else None
    if set_owner(lead, owner, actor=f"user:{current_user.email}", reason="reassigned"):
        db.session.commit()
    flash(_("Owner: %(owner)s.", owner=owner.email if owner else _("nobody")))
    return redirect(url_for("leads.show", lead_id=lead.public_id), 303)


def owner_events(lead: Lead) -> list[Event]:
    return [
        Event(
            change.created_at,
            "owner",
            _(
                "Owner %(old)s → %(new)s",
                old=change.from_email or _("nobody"),
                new=change.to_email or _("nobody"),
            ),
            (("reason", change.reason), ("by", change.actor)),
        )
        for change in changes_of(lead)
    ]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    extension_points.timeline_events.connect(app, owner_events)
