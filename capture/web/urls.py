"""Absolute URLs for links that leave the request: e-mails, embed snippets, API answers."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for


def public_url(endpoint: str, **values: Any) -> str:
    """`PUBLIC_BASE_URL` when set (behind proxies, in e-mails), else the request's own host,
    which Flask has checked against `TRUSTED_HOSTS` (capture.base.config.trusted_hosts) before any
    view runs: an arbitrary Host header never gets here."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def outside_request() -> AbstractContextManager[Any]:
    """A request context for building e-mail links in the CLI and the worker, which have no
    request: on `PUBLIC_BASE_URL`'s host (required in production), else http://localhost."""
    parts = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "http://localhost")
    return current_app.test_request_context("/", base_url=f"{parts.scheme}://{parts.netloc}")
