"""Rate limits on public submissions: per address, per form and for the whole site.

Counters live in RATELIMIT_STORAGE_URI (Redis in production), so every app process and node
shares them. The limits are shared between the API and the hosted page, so switching channel
does not buy a second allowance. A breach is a 429 in the contract's shape with Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request

from capture.base.extensions import limiter

View = TypeVar("View", bound=Callable[..., object])


def _per_address() -> str:
    return current_app.config["RATELIMIT_SUBMIT"]


def _per_form() -> str:
    return current_app.config["RATELIMIT_SUBMIT_FORM"]


def _whole_site() -> str:
    return current_app.config["RATELIMIT_SUBMIT_GLOBAL"]


def _form_key() -> str:
    return str((request.view_args or {}).get("slug", ""))


def _site_key() -> str:
    return "site"


by_address = limiter.shared_limit(_per_address, scope="submit-address")
by_form = limiter.shared_limit(_per_form, scope="submit-form", key_func=_form_key)
whole_site = limiter.shared_limit(_whole_site, scope="submit-site", key_func=_site_key)


def submission_limits(view: View) -> View:
    """All three limits; the per-address one is checked first, so one flooding address
    is stopped before it uses up the allowance of the form and the site."""
    return whole_site(by_form(by_address(view)))  # type: ignore[return-value]
