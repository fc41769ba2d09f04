"""Asking for fresh links is rate-limited per address: 429 with Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from helpers import expired_link, renew_token


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_FRESH_LINK": "2/hour"}


def test_renewal_is_rate_limited(
    app: Flask, client: Any, make_magnet: Any, make_form: Any, submit: Any
) -> None:
    token = renew_token(client, expired_link(app, make_magnet, make_form, submit))
    responses = [client.post("/d/renew", data={"token": token}) for _ in range(3)]
    assert [r.status_code for r in responses] == [202, 202, 429]
    assert int(responses[2].headers["Retry-After"]) > 0
