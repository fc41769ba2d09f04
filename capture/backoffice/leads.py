"""/admin/leads: find leads, read one's whole history, and move it along the lifecycle.

Sales and marketing both work here; exports live in `exports` (marketing and admins only).
Admins can erase a person here (GDPR Art. 17), after typing the address to confirm.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from capture.accounts import Role, allows, protect
from capture.backoffice import search, timeline
from capture.backoffice.owners import owner_form, owns_leads, sales_users
from capture.base.db import db
from capture.base.lifecycle import Stage
from capture.forms.store import FormDefinition
from capture.leads.lead import PROFILE_COLUMNS, Lead, move_stage
from capture.leads.privacy import erase

bp = Blueprint("leads", __name__, url_prefix="/admin/leads")
protect(bp, Role.MARKETER, Role.SALES)
# Erasure cannot be undone: admins only.
erasure = Blueprint("lead_erasure", __name__, url_prefix="/admin/erasure")
protect(erasure)

STAGE_LABELS = {
    Stage.LEAD: _l("Lead (recycle: back to nurturing)"),
    Stage.MQL: _l("MQL"),
    Stage.SAL: _l("SAL (accepted by sales)"),
    Stage.SQL: _l("SQL"),
    Stage.OPPORTUNITY: _l("Opportunity"),
    Stage.CUSTOMER: _l("Customer"),
    Stage.DISQUALIFIED: _l("Disqualified"),
}


class StageForm(FlaskForm):
    """Any move a person makes, forward, back or out, always with a reason."""

    to = SelectField(
        _l("New stage"),
        choices=[SelectChoice(s.value, label) for s, label in STAGE_LABELS.items()],
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class EraseForm(FlaskForm):
    """Erasure cannot be undone: the admin types the lead's address to confirm it."""

    confirm = StringField(_l("Type the e-mail address to confirm"), validators=[DataRequired()])


def actor() -> str:
    return f"user:{current_user.email}"


def _lead(public_id: str) -> Lead:
    lead = db.session.scalar(
        sa.select(Lead).where(Lead.public_id == public_id[:40], Lead.erased_at.is_(None))
    )
    if lead is None:
        abort(404)
    return lead


def known_partners() -> sa.Select[tuple[str]]:
    """The distinct partners of all leads, by a loose scan of ix_leads_partner_id: one index
    probe per partner (`min(partner) > the last one`), instead of reading every lead that has
    a partner, which at a million leads is most of a page's time."""
    has_one = Lead.partner.is_not(None)  # spelled out, or the partial index is not used
    first = sa.select(sa.func.min(Lead.partner).label("partner")).where(has_one).cte("known", True)
    later = sa.select(sa.func.min(Lead.partner)).where(Lead.partner > first.c.partner)
    known = first.union_all(sa.select(later.scalar_subquery()).where(first.c.partner.is_not(None)))
    return sa.select(known.c.partner).where(known.c.partner.is_not(None))


@bp.get("/")
def index() -> ResponseReturnValue:
    # Sales who own leads land on them ("My leads"); a link with any filter means what it
    # says, and where nobody owns leads (no routing) the list stays everyone's, as before.
    me = current_user._get_current_object()
    mine_first = "me" if me.role == Role.SALES and not request.args and owns_leads(me) else "any"
    wanted = search.from_args(request.args, me, mine_first)
    leads, next_cursor = search.page(wanted, request.args.get("after"))
    forms = db.session.execute(
        sa.select(FormDefinition.slug, FormDefinition.name).order_by(FormDefinition.name)
    ).all()
    partners = db.session.scalars(known_partners()).all()
    query: dict[str, Any] = request.args.to_dict(flat=False)
    query.pop("after", None)
    query["owner"] = wanted.owner
    return render_template(
        "backoffice/leads.html",
        leads=leads,
        wanted=wanted,
        next_url=url_for(".index", **query, after=next_cursor) if next_cursor else None,
        export_query=query,
        forms=forms,
        partners=partners,
        stages=search.STAGES,
        temperatures=search.TEMPERATURES,
        owners=sales_users(),
        can_export=allows(current_user.role, (Role.MARKETER,)),
    )


@bp.route("/<lead_id>", methods=["GET", "POST"])
def show(lead_id: str) -> ResponseReturnValue:
    lead = _lead(lead_id)
    form = StageForm(to=lead.lifecycle_stage)
    if form.validate_on_submit():
        target = Stage(form.to.data)
        if target.value == lead.lifecycle_stage:
            form.to.errors = [_("The lead is already in this stage.")]
        else:
            move_stage(lead, target, reason=form.reason.data.strip(), actor=actor())
            db.session.commit()
            flash(_("Stage changed to %(stage)s.", stage=target.value))
            return redirect(url_for(".show", lead_id=lead.public_id), 303)
    status = 422 if form.errors else 200
    profile = [(name, getattr(lead, name)) for name in PROFILE_COLUMNS]
    return (
        render_template(
            "backoffice/lead.html",
            lead=lead,
            profile=profile,
            events=timeline.events(lead),
            form=form,
            erase_form=EraseForm() if current_user.role == Role.ADMIN else None,
            owner_form=owner_form(lead),
        ),
        status,
    )


@erasure.post("/<lead_id>")
def erase_lead(lead_id: str) -> ResponseReturnValue:
    lead = _lead(lead_id)
    form = EraseForm()
    typed = (form.confirm.data or "").strip().lower()
    if not form.validate_on_submit() or typed != lead.email:
        flash(_("Not erased: type the lead's e-mail address exactly to confirm."))
        return redirect(url_for("leads.show", lead_id=lead.public_id), 303)
    public_id = lead.public_id
    erase(lead, actor())
    db.session.commit()
    flash(_("Lead %(id)s was erased; only anonymous counts remain.", id=public_id))
    return redirect(url_for("leads.index"), 303)
