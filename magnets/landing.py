"""Landing pages `GET /p/<slug>`: a magnet presented, with its gating form embedded.

The body is Markdown rendered by markdown-it-py with raw HTML off, then sanitised by nh3 to an
allow-list, so a marketer's text (or a stolen marketer account) cannot put script on the page.
The page speaks the gating form's language; the form posts to `/f/<form-slug>` as usual.
"""

from __future__ import annotations

import html
import re

import nh3
import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from markdown_it import MarkdownIt
from markupsafe import Markup

from capture.accounts import Role, allows
from capture.analytics.counts import count_view
from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.submissions.page import lead_form_context
from capture.web.errors import respond
from capture.web.i18n import visitor_language
from capture.web.urls import public_url
from magnets.magnet import Magnet, MagnetStatus, get_magnet
from magnets.storage import StorageUnavailable, content_disposition, storage

bp = Blueprint("landing", __name__)

_markdown = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
    ["table", "strikethrough"]
)
ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}
COVER_CACHE_SECONDS = 86400


def render_markdown(text: str) -> Markup:
    """Markdown to HTML that is safe to put on a page as is."""
    rendered = _markdown.render(text or "")
    # A page title is the headline; headings in the body start one level down.
    rendered = re.sub(r"<(/?)h1>", r"<\1h2>", rendered)
    cleaned = nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        filter_style_properties={"text-align"},
    )
    # Safe to mark: nh3 has sanitised it just above (allow-listed tags and attributes only).
    return Markup(cleaned)  # noqa: S704  # nosec B704


def summary(text: str, limit: int = 200) -> str:
    """Plain text of the description's start, for meta and Open Graph descriptions."""
    plain = html.unescape(nh3.clean(_markdown.render(text or ""), tags=set()))
    plain = " ".join(plain.split())
    return plain if len(plain) <= limit else plain[: limit - 1].rsplit(" ", 1)[0] + "…"


def gating_form(magnet: Magnet) -> FormDefinition | None:
    """The open form that gates this magnet; with several, the one in the asked language."""
    forms = db.session.scalars(
        sa.select(FormDefinition)
        .where(FormDefinition.magnet == magnet.slug, FormDefinition.status == "active")
        .order_by(FormDefinition.id)
    ).all()
    for language in (request.args.get("lang"), magnet.language):
        for form in forms:
            if form.language == language:
                return form
    return forms[0] if forms else None


def can_preview() -> bool:
    """Drafts are shown to logged-in marketers (and admins) only, for a preview."""
    return bool(
        current_user.is_authenticated
        and current_user.is_active
        and allows(current_user.role, [Role.MARKETER])
    )


def _visible(slug: str) -> Magnet | ResponseReturnValue:
    magnet = get_magnet(slug)
    if magnet is None or (magnet.status == MagnetStatus.DRAFT and not can_preview()):
        return respond(404, "not_found", _("Nothing was found at this address."))
    if magnet.status == MagnetStatus.ARCHIVED:
        return respond(410, "gone", _("This material is no longer available."))
    return magnet


def cover_url(magnet: Magnet) -> str | None:
    if not magnet.cover_key:
        return None
    return public_url("landing.cover", slug=magnet.slug, v=(magnet.cover_sha256 or "")[:12])


@bp.get("/p/<slug>")
def show(slug: str) -> ResponseReturnValue:
    magnet = _visible(slug)
    if not isinstance(magnet, Magnet):
        return magnet
    form = gating_form(magnet)
    language = visitor_language(form.language if form else magnet.language)
    canonical = public_url("landing.show", slug=magnet.slug)
    # The form's token, honeypot, CAPTCHA and attribution come from where the hosted page's do.
    if form is not None:
        lead_form = lead_form_context(form, language, page_url=canonical)
        if magnet.is_published:  # a marketer's preview of a draft is not a view
            count_view(form=form.slug, page=magnet.slug, partner=form.partner, language=language)
    else:
        lead_form = {"form": None, "language": language}
    page = render_template(
        "magnets/landing.html",
        magnet=magnet,
        body=render_markdown(magnet.description),
        description=summary(magnet.description) or magnet.display_headline,
        canonical=canonical,
        image=cover_url(magnet),
        preview=not magnet.is_published,
        **lead_form,
    )
    response = current_app.make_response(page)
    # The embedded form carries a fresh signed token, so shared caches must not keep the page.
    response.headers["Cache-Control"] = "private, no-cache"
    if magnet.noindex or not magnet.is_published:
        response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/p/<slug>/cover")
def cover(slug: str) -> ResponseReturnValue:
    """The cover image, served by us with its checked type; never rendered as a document."""
    magnet = _visible(slug)
    if not isinstance(magnet, Magnet):
        return magnet
    if not magnet.cover_key or not magnet.cover_type:
        return respond(404, "not_found", _("Nothing was found at this address."))
    try:
        stream = storage().open(magnet.cover_key)
    except StorageUnavailable:
        message = _("Please try again in a moment.")
        return respond(503, "unavailable", message, {"Retry-After": "30"})
    response = send_file(stream, mimetype=magnet.cover_type, conditional=False, etag=False)
    versioned = request.args.get("v") == (magnet.cover_sha256 or "")[:12]
    response.headers["Cache-Control"] = (
        f"public, max-age={COVER_CACHE_SECONDS}, immutable" if versioned else "no-cache"
    )
    response.headers["Content-Disposition"] = content_disposition("cover", "inline")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
