"""Security headers on every response: a nonce-based CSP, framing rules, no sniffing."""

from __future__ import annotations

import logging
import re
import secrets

from flask import Flask, Response, g

from capture.base.context import this_g

log = logging.getLogger(__name__)
# An origin as `capture.forms.origins.normalise_origin` writes it. Only such values go into the
# CSP header: anything else (`*`, a space, a `;`) would add sources or whole directives.
SERIALISED_ORIGIN = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?"
)


def csp_nonce() -> str:
    store = this_g()
    nonce: str | None = store.get("csp_nonce")
    if nonce is None:
        nonce = store.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def allow_framing(origins: list[str] | tuple[str, ...]) -> None:
    """Let this response be framed by these origins only (iframe embeds of a form).

    Values that are not normalised origins are left out (and logged), never written into
    the header; a definition saved under older, looser rules cannot widen the policy."""
    allowed = [origin for origin in origins if SERIALISED_ORIGIN.fullmatch(origin)]
    if len(allowed) != len(origins):
        log.warning("left %d malformed origins out of frame-ancestors", len(origins) - len(allowed))
    g.frame_ancestors = allowed


def allow_third_party(sources: list[str] | tuple[str, ...]) -> None:
    """Let this page load scripts and frames from these sources too (a CAPTCHA provider, the
    tag manager); each caller adds its own."""
    g.third_party = [*g.get("third_party", ()), *sources]


def content_security_policy(nonce: str, extra: str, frame: str) -> str:
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'{extra}; "
        f"style-src 'self' 'nonce-{nonce}'; img-src 'self' data: https:; "
        f"connect-src 'self'{extra}; frame-src 'self'{extra}; object-src 'none'; "
        f"base-uri 'none'; frame-ancestors {frame}"
    )


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    fixed = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]
    if app.config["LEADGATE_ENV"] == "production":
        fixed.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))

    @app.after_request
    def security_headers(response: Response) -> Response:
        """Each header unless the view set its own (a view may loosen or tighten one). The
        names present are read once: a lookup of a missing header raises inside werkzeug,
        five of them were 1 % of a submission's CPU."""
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        store = this_g()
        ancestors = store.get("frame_ancestors")
        if "content-security-policy" not in present:
            frame = " ".join(["'self'", *ancestors]) if ancestors else "'none'"
            extra = "".join(f" {source}" for source in store.get("third_party", ()))
            headers.add(
                "Content-Security-Policy", content_security_policy(csp_nonce(), extra, frame)
            )
        for name, value in fixed:
            if name.lower() not in present:
                headers.add(name, value)
        if not ancestors and "x-frame-options" not in present:
            headers.add("X-Frame-Options", "DENY")
        return response
