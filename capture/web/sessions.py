"""Flask's signed-cookie sessions, the signing serializer made once per set of keys.

Flask opens the session of every request, a partner site's submission without any cookie
included, and makes a new serializer each time it opens or saves one. It depends only on
the keys (and this class's fixed salt and digest), so it is kept until they change.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

EXTENSION = "leadgate.session_serializer"


class CookieSessions(SecureCookieSessionInterface):
    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        held = app.extensions.get(EXTENSION)
        if held is None or held[0] != keys:
            held = app.extensions[EXTENSION] = (keys, super().get_signing_serializer(app))
        serializer: URLSafeTimedSerializer | None = held[1]
        return serializer


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
