"""The back office's magnet forms (Flask-WTF, so every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from capture.forms.spec import SLUG_RE
from capture.web.i18n import LANGUAGES
from magnets.magnet import DEFAULT_LINK_LIFETIME_DAYS, MAX_LINK_LIFETIME_DAYS, MagnetKind

KIND_LABELS = {
    MagnetKind.WHITEPAPER: _l("Whitepaper"),
    MagnetKind.EBOOK: _l("E-book"),
    MagnetKind.TEMPLATE: _l("Template"),
    MagnetKind.CHECKLIST: _l("Checklist"),
    MagnetKind.TOOL: _l("Tool"),
    MagnetKind.REPORT: _l("Report"),
    MagnetKind.OTHER: _l("Other"),
}
LANGUAGE_LABELS = {"da": "Dansk", "sv": "Svenska", "en": "English"}


class DetailsForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=200)])
    headline = StringField(
        _l("Landing page headline"),
        validators=[Optional(), Length(max=300)],
        description=_l("Leave empty to use the title."),
    )
    description = TextAreaField(
        _l("Landing page text"),
        validators=[Length(max=20_000)],
        description=_l("Markdown: **bold**, *italic*, lists, links, ## headings."),
    )
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        default=MagnetKind.EBOOK.value,
    )
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice(code, LANGUAGE_LABELS[code]) for code in LANGUAGES],
        default="en",
    )
    link_lifetime_days = IntegerField(
        _l("Download links work for (days)"),
        default=DEFAULT_LINK_LIFETIME_DAYS,
        validators=[InputRequired(), NumberRange(1, MAX_LINK_LIFETIME_DAYS)],
    )
    noindex = BooleanField(_l("Hide the landing page from search engines (noindex)"))


class NewMagnetForm(DetailsForm):
    slug = StringField(
        _l("Address"),
        validators=[Optional(), Regexp(SLUG_RE.pattern, message=_l("Use a-z, 0-9 and -."))],
        description=_l("The landing page is /p/<address>. Leave empty to make one from the title."),
    )
    file = FileField(_l("File"), validators=[FileRequired()])
    cover = FileField(_l("Cover image (optional)"))
    publish = BooleanField(_l("Publish now"))


class FileForm(FlaskForm):
    file = FileField(_l("New file"), validators=[FileRequired()])


class CoverForm(FlaskForm):
    cover = FileField(_l("New cover image"), validators=[FileRequired()])


class ActionForm(FlaskForm):
    """No fields: a CSRF-protected button (publish, archive, revoke links)."""
