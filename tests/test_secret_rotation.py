"""Rotating SECRET_KEY: the old key moves to SECRET_KEY_FALLBACKS and what it signed (download
links in e-mails, confirmation links) keeps working; only the new key signs new tokens."""

from __future__ import annotations

from typing import Any

import pytest
from flask import session

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


def test_session_cookies_follow_the_keys_in_force(app_config):
    """The session's signing serializer is kept per set of keys (capture/web/sessions.py):
    a key changed in a running app signs the next cookie, and the old one is read only
    while it is a fallback."""
    app = create_app({**app_config, "SECRET_KEY": OLD})

    @app.get("/test-session/<value>")
    def remember(value: str) -> str:
        session["value"] = value
        return "ok"

    @app.get("/test-session")
    def recall() -> str:
        return str(session.get("value"))

    client = app.test_client()
    client.get("/test-session/kept")
    assert client.get("/test-session").text == "kept"
    app.config.update(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD])
    assert client.get("/test-session").text == "kept"  # signed by the fallback
    client.get("/test-session/renewed")  # signed by the new key
    app.config.update(SECRET_KEY_FALLBACKS=[])
    assert client.get("/test-session").text == "renewed"
    app.config.update(SECRET_KEY=OLD)
    assert client.get("/test-session").text == "None"  # the new key's cookie is refused
