"""Rotating SECRET_KEY: the old key moves to SECRET_KEY_FALLBACKS and what it signed (download
links in e-mails, confirmation links) keeps working; only the new key signs new tokens."""

from __future__ import annotations

from typing import Any

import pytest

from capture.web.tokens import InvalidToken, Purpose, sign, verify
from wsgi import create_app

OLD = "old-secret-key-0123456789abcdefghijklmnopqrstuv"
NEW = "new-secret-key-0123456789abcdefghijklmnopqrstuv"


def signed_with(config: dict[str, Any], payload: Any) -> str:
    with create_app(config).app_context():
        return sign(Purpose.DOWNLOAD, payload)


def verified_with(config: dict[str, Any], token: str) -> Any:
    with create_app(config).app_context():
        return verify(Purpose.DOWNLOAD, token)[0]


def test_tokens_signed_with_the_old_key_verify_after_rotation(app_config):
    token = signed_with({**app_config, "SECRET_KEY": OLD}, {"g": "grant_1"})
    rotated = {**app_config, "SECRET_KEY": NEW, "SECRET_KEY_FALLBACKS": [OLD]}
    assert verified_with(rotated, token) == {"g": "grant_1"}
    # New tokens are signed with the new key only: dropping the fallback keeps them valid.
    fresh = signed_with(rotated, {"g": "grant_2"})
    assert verified_with({**app_config, "SECRET_KEY": NEW}, fresh) == {"g": "grant_2"}


def test_without_the_fallback_old_tokens_are_refused(app_config):
    token = signed_with({**app_config, "SECRET_KEY": OLD}, {"g": "grant_1"})
    with pytest.raises(InvalidToken):
        verified_with({**app_config, "SECRET_KEY": NEW}, token)


def test_fallbacks_come_from_the_environment(app_config, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", f" {OLD} , older-key ")
    app = create_app(app_config)
    assert app.config["SECRET_KEY_FALLBACKS"] == [OLD, "older-key"]
