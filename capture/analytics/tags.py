"""The optional tag-manager snippet of our public pages, and the conversion it reports.

With `TAG_MANAGER_ID` (LEADGATE_TAG_MANAGER_ID, a Google Tag Manager container id) set, the
hosted form page, the landing page and the thank-you page load the container through
`static/tags.js`, and the thank-you page pushes `{event: "leadgate_submit", form,
classification, language, variant}` to `window.dataLayer` and dispatches the DOM event
`leadgate:submit`, as the embed does on partner pages: never anything about the person. The
CSP allows Google's hosts on those pages only, and only when the setting is there.
Not in a frame (`?embed=1`): the partner's page around it is not the marketer's to measure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, current_app, g, request, url_for
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from capture.base.config import UnsafeConfiguration
from capture.web.headers import allow_third_party, csp_nonce

CONTAINER_ID = re.compile(r"GTM-[A-Z0-9]{1,16}")
PUBLIC_PAGES = frozenset({"hosted.show", "hosted.post", "landing.show"})
# What a GTM container with GA4 needs (Google's CSP guide for Tag Manager).
SOURCES = (
    "https://www.googletagmanager.com",
    "https://*.google-analytics.com",
    "https://*.analytics.google.com",
)


def conversion_event(context: Context) -> dict[str, Any] | None:
    """The thank-you page's conversion, from what the page shows; None on other pages."""
    answer, form = context.get("answer"), context.get("form")
    if request.endpoint != "hosted.post" or not isinstance(answer, dict) or form is None:
        return None
    variant = request.form.get("variant")
    return {
        "event": "leadgate_submit",
        "form": form.slug,
        "classification": (answer.get("conversion") or {}).get("classification"),
        "language": g.get("language") or form.language,
        "variant": variant[:40] if variant else None,
    }


@pass_context
def tag_snippet(context: Context) -> Markup:
    container = current_app.config.get("TAG_MANAGER_ID")
    if not container or request.endpoint not in PUBLIC_PAGES or g.get("embedded"):
        return Markup("")
    allow_third_party(SOURCES)
    event = conversion_event(context)
    attributes = {
        "src": url_for("static", filename="tags.js"),
        "nonce": csp_nonce(),
        "data-container": container,
        "data-event": json.dumps(event) if event else None,
    }
    rendered = " ".join(
        f'{name}="{escape(value)}"' for name, value in attributes.items() if value is not None
    )
    # Safe to mark: every attribute value is escaped just above.
    return Markup(f"<script {rendered} async></script>")  # noqa: S704  # nosec B704


def init_app(app: Flask) -> None:
    container = app.config.get("TAG_MANAGER_ID")
    if container and not CONTAINER_ID.fullmatch(container):
        raise UnsafeConfiguration(
            f"LEADGATE_TAG_MANAGER_ID must look like GTM-XXXXXXX, not {container!r}."
        )
    app.jinja_env.globals["tag_snippet"] = tag_snippet
