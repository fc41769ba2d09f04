"""Back office for a landing page's languages and A/B variants (on the magnet's edit page).

`POST /admin/magnets/<slug>/texts` saves the page in other languages; `.../variants` adds a
challenger (with an optional cover, so it checks CSRF itself after raising the size limit, as
the magnet uploads do); `.../variants/<key>/win` makes a variant the page and ends the test.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from capture.accounts import Role, protect
from capture.base.db import db
from capture.base.extensions import csrf
from capture.web.errors import ApiError
from capture.web.i18n import LANGUAGE_NAMES, LANGUAGES
from magnets.copy import LIMITS, read_texts
from magnets.filetypes import Purpose, Refused
from magnets.magnet import Magnet, get_magnet
from magnets.storage import StorageUnavailable, storage
from magnets.uploads import limit_for, new_key, receive
from magnets.variant_stats import results
from magnets.variants import TEXT_KEYS, add_challenger, make_winner, variant_by_key

log = logging.getLogger(__name__)

bp = Blueprint("landing_admin", __name__, url_prefix="/admin/magnets")
protect(bp, Role.MARKETER)

TEXT_LABELS = {
    "headline": _l("Headline"),
    "body": _l("Text (Markdown)"),
    "cover_alt": _l("Cover image description (alt text)"),
    "button": _l("Button text"),
}


class TextsForm(FlaskForm):
    """`<language>_<key>` fields for every language and text (added below)."""


for _language in LANGUAGES:
    for _key in TEXT_KEYS:
        _kind = TextAreaField if _key == "body" else StringField
        _label = f"{TEXT_LABELS[_key]} ({LANGUAGE_NAMES[_language]})"
        setattr(
            TextsForm, f"{_language}_{_key}", _kind(_label, validators=[Length(max=LIMITS[_key])])
        )


class VariantForm(TextsForm):
    cover = FileField(_l("Cover image (optional)"))


class WinnerForm(FlaskForm):
    """No fields: a CSRF-protected button."""


def _magnet(slug: str) -> Magnet:
    magnet = get_magnet(slug)
    if magnet is None:
        raise ApiError(404, "not_found", _("There is no magnet at this address."))
    return magnet


def _back(magnet: Magnet, anchor: str) -> ResponseReturnValue:
    return redirect(url_for("magnets_admin.edit", slug=magnet.slug) + anchor, 303)


def landing_context(magnet: Magnet) -> dict[str, Any]:
    """What the edit page's languages and A/B test sections need."""
    saved = {
        f"{language}_{key}": value
        for language, texts in (magnet.texts or {}).items()
        for key, value in texts.items()
    }
    return {
        "texts_form": TextsForm(formdata=None, data=saved),
        "variant_form": VariantForm(formdata=None, prefix="variant"),
        "winner_form": WinnerForm(formdata=None),
        "variant_results": results(magnet),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "text_keys": TEXT_KEYS,
    }


@bp.post("/<slug>/texts")
def save_texts(slug: str) -> ResponseReturnValue:
    magnet = _magnet(slug)
    form = TextsForm()
    if not form.validate_on_submit():
        flash(_("The texts were not saved: %(problems)s", problems=_problems(form)))
        return _back(magnet, "#languages-title")
    texts = read_texts(form.data)
    # The page's own language has its headline and text in the details above.
    own = texts.get(magnet.language, {})
    own.pop("headline", None)
    own.pop("body", None)
    magnet.texts = {language: values for language, values in texts.items() if values}
    db.session.commit()
    flash(_("The landing page texts were saved."))
    return _back(magnet, "#languages-title")


@bp.post("/<slug>/variants")
@csrf.exempt
def add_variant(slug: str) -> ResponseReturnValue:
    request.max_content_length = limit_for(Purpose.COVER) + 1024 * 1024
    csrf.protect()
    magnet = _magnet(slug)
    form = VariantForm(prefix="variant")
    upload = form.cover.data if form.cover.data and form.cover.data.filename else None
    if not form.validate_on_submit():
        flash(_("The variant was not added: %(problems)s", problems=_problems(form)))
        return _back(magnet, "#variants-title")
    texts = read_texts(form.data)
    if not texts and upload is None:
        flash(_("The variant was not added: give it a headline, text, button text or cover."))
        return _back(magnet, "#variants-title")
    variant = add_challenger(magnet, texts)
    if upload is not None:
        try:
            with receive(upload.stream, upload.filename, Purpose.COVER) as received:
                key = new_key("covers", received.content_type)
                received.file.seek(0)
                storage().put(received.file, key, received.content_type)
        except (Refused, StorageUnavailable) as error:
            db.session.rollback()
            message = error.message if isinstance(error, Refused) else str(error)
            flash(_("The variant was not added: %(problems)s", problems=message))
            return _back(magnet, "#variants-title")
        variant.cover_key, variant.cover_type = key, received.content_type
        variant.cover_sha256 = received.sha256
    db.session.commit()
    flash(_("Variant %(key)s is live: each view now shows one variant.", key=variant.label))
    return _back(magnet, "#variants-title")


@bp.post("/<slug>/variants/<key>/win")
def win(slug: str, key: str) -> ResponseReturnValue:
    magnet = _magnet(slug)
    if not WinnerForm().validate_on_submit():
        raise ApiError(400, "bad_request", _("The form expired. Reload the page and try again."))
    winner = variant_by_key(magnet, key)
    if winner is None or winner.status != "active":
        raise ApiError(404, "not_found", _("There is no running variant with this key."))
    previous_cover = make_winner(magnet, winner)
    db.session.commit()
    if previous_cover:
        try:
            storage().delete(previous_cover)
        except StorageUnavailable as exc:
            log.warning("could not delete %s: %s", previous_cover, exc)
    flash(_("Variant %(key)s is now the page; the other variants are retired.", key=winner.label))
    return _back(magnet, "#variants-title")


def _problems(form: FlaskForm) -> str:
    return " ".join(
        f"{form[name].label.text}: {' '.join(errors)}" for name, errors in form.errors.items()
    )
