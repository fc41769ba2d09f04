"""Back office for a magnet's nurture follow-up: `/admin/magnets/<slug>/nurture`.

Marketers and admins, as the rest of the magnet pages. One page, one form (Flask-WTF, CSRF):
when, what it says per language, and where it leads next.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import URL, InputRequired, Length, NumberRange, Optional

from capture.accounts import Role, protect
from capture.base.db import db
from capture.web.errors import ApiError
from capture.web.i18n import LANGUAGES
from magnets.admin_forms import LANGUAGE_LABELS
from magnets.magnet import Magnet, get_magnet
from magnets.nurture import MAX_AFTER_DAYS, MAX_BODY, MAX_SUBJECT, Nurture, nurture_of

bp = Blueprint("nurture_admin", __name__, url_prefix="/admin/magnets")
protect(bp, Role.MARKETER)


class NurtureForm(FlaskForm):
    enabled = BooleanField(_l("Send this follow-up"))
    after_days = IntegerField(
        _l("Days after the download"),
        default=3,
        validators=[InputRequired(), NumberRange(1, MAX_AFTER_DAYS)],
    )
    next_magnet = SelectField(_l("Next magnet (its download link is in the e-mail)"), choices=[])
    meeting_url = StringField(
        _l("Meeting link (optional)"),
        validators=[Optional(), URL(require_tld=False), Length(max=500)],
        description=_l("An https:// address where the lead can book a meeting."),
    )


for _code in LANGUAGES:
    setattr(
        NurtureForm,
        f"subject_{_code}",
        StringField(
            _l("Subject (%(language)s)", language=LANGUAGE_LABELS[_code]),
            validators=[Optional(), Length(max=MAX_SUBJECT)],
        ),
    )
    setattr(
        NurtureForm,
        f"body_{_code}",
        TextAreaField(
            _l("Text (%(language)s)", language=LANGUAGE_LABELS[_code]),
            validators=[Optional(), Length(max=MAX_BODY)],
            description=_l("Markdown: **bold**, *italic*, lists, links."),
        ),
    )


def _magnet(slug: str) -> Magnet:
    magnet = get_magnet(slug)
    if magnet is None:
        raise ApiError(404, "not_found", _("There is no magnet at this address."))
    return magnet


def _form(magnet: Magnet, nurture: Nurture | None) -> NurtureForm:
    form = NurtureForm(
        enabled=nurture.enabled if nurture else True,
        after_days=nurture.after_days if nurture else 3,
        next_magnet=str(nurture.next_magnet_id or "") if nurture else "",
        meeting_url=nurture.meeting_url if nurture else "",
        **{f"{f}_{c}": (getattr(nurture, f) or {}).get(c, "") if nurture else ""
           for f in ("subject", "body") for c in LANGUAGES},
    )  # fmt: skip
    others = db.session.scalars(
        sa.select(Magnet).where(Magnet.id != magnet.id).order_by(Magnet.title)
    ).all()
    form.next_magnet.choices = [("", _("None"))] + [(str(m.id), m.title) for m in others]
    return form


@bp.route("/<slug>/nurture", methods=["GET", "POST"])
def edit(slug: str) -> ResponseReturnValue:
    magnet = _magnet(slug)
    nurture = nurture_of(magnet)
    form = _form(magnet, nurture)
    texts = {
        field: {c: (getattr(form, f"{field}_{c}").data or "").strip() for c in LANGUAGES}
        for field in ("subject", "body")
    }
    if form.validate_on_submit():
        subject = {c: t for c, t in texts["subject"].items() if t}
        body = {c: t for c, t in texts["body"].items() if t}
        if (form.meeting_url.data or "").startswith("https://") or not form.meeting_url.data:
            if subject and body and set(subject) == set(body):
                nurture = nurture or Nurture(magnet=magnet, magnet_id=magnet.id)
                nurture.enabled = bool(form.enabled.data)
                nurture.after_days = form.after_days.data
                nurture.subject, nurture.body = subject, body
                nurture.next_magnet_id = int(form.next_magnet.data or 0) or None
                nurture.meeting_url = form.meeting_url.data or None
                db.session.add(nurture)
                db.session.commit()
                flash(_("The follow-up was saved."))
                return redirect(url_for(".edit", slug=slug), 303)
            form.subject_en.errors = [
                _("Write a subject and a text, in the same languages (at least one).")
            ]
        else:
            form.meeting_url.errors = [_("Use an https:// address.")]
    status = 422 if form.is_submitted() else 200
    page = render_template(
        "admin/magnets/nurture.html", magnet=magnet, form=form, languages=LANGUAGES
    )
    return page, status
