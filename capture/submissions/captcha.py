"""The optional CAPTCHA step: which provider, what the browser loads, and the server-side check.

Turnstile, hCaptcha and reCAPTCHA share one shape (a widget that yields a response token; a
`siteverify` endpoint taking `secret`, `response` and `remoteip` that answers `{"success": ..}`),
so one verifier serves all three. The verify URL is configurable for self-hosted proxies and tests.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from flask import current_app

from capture.web.headers import allow_third_party

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provider:
    verify_url: str
    script_url: str
    # The browser global the provider's script defines, with a `render(element, options)`.
    script_global: str
    # The form field the widget fills in (hosted pages post it without JavaScript).
    response_field: str
    # The class that makes the provider's script render a widget by itself (hosted pages).
    css_class: str
    # What a page showing the widget must let through its Content-Security-Policy.
    csp_sources: tuple[str, ...]


PROVIDERS = {
    "turnstile": Provider(
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit",
        "turnstile",
        "cf-turnstile-response",
        "cf-turnstile",
        ("https://challenges.cloudflare.com",),
    ),
    "hcaptcha": Provider(
        "https://api.hcaptcha.com/siteverify",
        "https://js.hcaptcha.com/1/api.js?render=explicit",
        "hcaptcha",
        "h-captcha-response",
        "h-captcha",
        ("https://hcaptcha.com", "https://*.hcaptcha.com"),
    ),
    "recaptcha": Provider(
        "https://www.google.com/recaptcha/api/siteverify",
        "https://www.google.com/recaptcha/api.js?render=explicit",
        "grecaptcha",
        "g-recaptcha-response",
        "g-recaptcha",
        ("https://www.google.com", "https://www.gstatic.com"),
    ),
}
RESPONSE_FIELDS = frozenset(p.response_field for p in PROVIDERS.values())


def provider() -> Provider | None:
    name = current_app.config.get("CAPTCHA_PROVIDER")
    return PROVIDERS.get(name) if name else None


def widget() -> dict[str, str] | None:
    """What the embed script needs to show the widget, or None when the step is off."""
    chosen = provider()
    if chosen is None:
        return None
    config = current_app.config
    return {
        "script": config.get("CAPTCHA_SCRIPT_URL") or chosen.script_url,
        "global": chosen.script_global,
        "site_key": config["CAPTCHA_SITE_KEY"],
    }


def page_widget() -> dict[str, str] | None:
    """The widget on hosted pages: rendered by the provider's script, no script of ours."""
    chosen = provider()
    if chosen is None:
        return None
    script = current_app.config.get("CAPTCHA_SCRIPT_URL") or chosen.script_url
    allow_third_party(chosen.csp_sources)
    return {
        "script": script.replace("?render=explicit", "").replace("&render=explicit", ""),
        "css_class": chosen.css_class,
        "site_key": current_app.config["CAPTCHA_SITE_KEY"],
    }


def captcha_problem(answer: Any, ip: str | None) -> str | None:
    """None when the step is off or passed; otherwise the spam reason to quarantine under.

    An unreachable provider quarantines rather than refuses: the person did nothing wrong,
    and a marketer can release the submission later.
    """
    chosen = provider()
    if chosen is None:
        return None
    if not isinstance(answer, str) or not answer or len(answer) > 4096:
        return "captcha_missing"
    config = current_app.config
    form = {"secret": config["CAPTCHA_SECRET"], "response": answer}
    if ip:
        form["remoteip"] = ip
    request = Request(  # noqa: S310 - the URL is the operator's setting, not visitor input
        config.get("CAPTCHA_VERIFY_URL") or chosen.verify_url,
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        # The URL is the provider's https constant or the operator's CAPTCHA_VERIFY_URL, never
        # visitor input, so no file: or custom scheme reaches urlopen from outside.
        with urlopen(request, timeout=config["CAPTCHA_TIMEOUT"]) as response:  # noqa: S310  # nosec B310
            verdict = json.loads(response.read(65536))
    except (URLError, OSError, ValueError) as exc:
        log.warning("CAPTCHA verification unavailable: %s", exc)
        return "captcha_unverified"
    if isinstance(verdict, dict) and verdict.get("success") is True:
        return None
    return "captcha_failed"
