"""Landing pages `GET /p/<slug>`: a magnet presented, with its gating form embedded.

The body is Markdown rendered by markdown-it-py with raw HTML off, then sanitised by nh3 to an
allow-list, so a marketer's text (or a stolen marketer account) cannot put script on the page.
The page speaks the visitor's language (`?lang=`, then Accept-Language, then the magnet's), its
copy per language from `magnets.copy`; the form posts to `/f/<form-slug>` as usual. A view of
a page under an A/B test draws its variant here (`magnets.variants`).
"""

from __future__ import annotations

import html
import re

import nh3
import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request, send_file, url_for
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
from capture.web.i18n import LANGUAGES, language_versions, visitor_language
from capture.web.urls import public_url
from magnets.copy import choose_language, copy_for, page_languages
from magnets.magnet import Magnet, MagnetStatus, get_magnet
from magnets.storage import StorageUnavailable, content_disposition, storage
from magnets.variants import LandingVariant, pick_variant, variant_by_key

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


def gating_forms(magnet: Magnet) -> list[FormDefinition]:
    """The open forms that gate this magnet, oldest first."""
    return list(
        db.session.scalars(
            sa.select(FormDefinition)
            .where(FormDefinition.magnet == magnet.slug, FormDefinition.status == "active")
            .order_by(FormDefinition.id)
        )
    )


def gating_form(magnet: Magnet, language: str | None = None) -> FormDefinition | None:
    """The open form that gates this magnet; with several, the one in the page's language."""
    forms = gating_forms(magnet)
    for wanted in (language or request.args.get("lang"), magnet.language):
        for form in forms:
            if form.language == wanted:
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


def cover_url(magnet: Magnet, variant: LandingVariant | None = None) -> str | None:
    if variant is not None and variant.cover_key:
        sha = (variant.cover_sha256 or "")[:12]
        return public_url("landing.cover", slug=magnet.slug, variant=variant.key, v=sha)
    if not magnet.cover_key:
        return None
    return public_url("landing.cover", slug=magnet.slug, v=(magnet.cover_sha256 or "")[:12])


@bp.get("/p/<slug>")
def show(slug: str) -> ResponseReturnValue:
    magnet = _visible(slug)
    if not isinstance(magnet, Magnet):
        return magnet
    forms = gating_forms(magnet)
    languages = page_languages(magnet, (f.language for f in forms))
    language = visitor_language(choose_language(magnet, languages))
    form = gating_form(magnet, language)
    preview = not magnet.is_published
    # An A/B test draws a variant per view; its key rides in the form (hidden `variant`).
    chosen = None if preview else pick_variant(magnet, language)
    variant = chosen.key if chosen else None
    copy = copy_for(magnet, language, chosen)
    versions = language_versions("landing.show", languages, language, slug=magnet.slug)
    canonical = versions.url if request.args.get("lang") in LANGUAGES else versions.x_default
    # The form's token, honeypot, CAPTCHA and attribution come from where the hosted page's do.
    if form is not None:
        lead_form = lead_form_context(form, language, page_url=canonical)
        if language != form.language:  # answers in the page's language, however it was chosen
            lead_form["form_action"] = url_for("hosted.post", slug=form.slug, lang=language)
        if variant:
            lead_form["attribution"]["variant"] = variant
    else:
        lead_form = {"form": None, "language": language}
    lead_form["versions"] = versions  # the page's languages, not its form's
    if not preview:  # a marketer's preview of a draft is not a view; A/B results read these
        count_view(
            form=form.slug if form else None,
            page=magnet.slug,
            partner=form.partner if form else None,
            language=language,
            variant=variant,
        )
    page = render_template(
        "magnets/landing.html",
        magnet=magnet,
        copy=copy,
        variant=variant,
        body=render_markdown(copy.body),
        description=summary(copy.body) or copy.headline,
        canonical=canonical,
        image=cover_url(magnet, chosen),
        preview=preview,
        **lead_form,
    )
    response = current_app.make_response(page)
    # The embedded form carries a fresh signed token, so shared caches must not keep the page.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Accept-Language")
    if magnet.noindex or not magnet.is_published:
        response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/p/<slug>/cover")
def cover(slug: str) -> ResponseReturnValue:
    """The cover image, served by us with its checked type; never rendered as a document."""
    magnet = _visible(slug)
    if not isinstance(magnet, Magnet):
        return magnet
    owner: Magnet | LandingVariant | None = magnet
    if request.args.get("variant"):
        owner = variant_by_key(magnet, request.args["variant"])
    if owner is None or not owner.cover_key or not owner.cover_type:
        return respond(404, "not_found", _("Nothing was found at this address."))
    try:
        stream = storage().open(owner.cover_key)
    except StorageUnavailable:
        message = _("Please try again in a moment.")
        return respond(503, "unavailable", message, {"Retry-After": "30"})
    response = send_file(stream, mimetype=owner.cover_type, conditional=False, etag=False)
    versioned = request.args.get("v") == (owner.cover_sha256 or "")[:12]
    response.headers["Cache-Control"] = (
        f"public, max-age={COVER_CACHE_SECONDS}, immutable" if versioned else "no-cache"
    )
    response.headers["Content-Disposition"] = content_disposition("cover", "inline")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
