"""Mail rendering and backends: escaping, console, SMTP with credentials, SES (moto server)."""

from __future__ import annotations

import logging
import socket

import boto3
import pytest
from aiosmtpd.smtp import AuthResult
from moto.server import ThreadedMotoServer

from capture.base.db import db
from capture.delivery.mail import SMTPBackend, compose, render_email
from capture.delivery.outbox import enqueue_email
from capture.ops.worker import drain
from wsgi import create_app

HOSTILE = '<script>alert("x")</script><b>Ane</b>'

UNSUBSCRIBE = "https://x/u/tok"  # every e-mail to a lead carries one


def test_lead_data_is_escaped_in_html_and_plain_in_text(app):
    with app.test_request_context():
        rendered = render_email(
            "confirm",
            "en",
            confirm_url="https://leads.example/c/abc?x=1&y=2",
            form_name=HOSTILE,
            first_name=HOSTILE,
            valid_days=7,
        )
    assert "<script>" not in rendered.html and "<b>Ane" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "https://leads.example/c/abc?x=1&amp;y=2" in rendered.html
    assert f"Hi {HOSTILE}," in rendered.text  # plain text needs no escaping
    assert rendered.subject == "Please confirm your e-mail address"


def test_subject_cannot_carry_extra_headers(app):
    message = compose(
        {
            "to": "ane@firma.dk",
            "from": "Leadgate <no-reply@firma.dk>",
            "subject": "Hello",
            "text": "t",
            "html": "<p>h</p>",
            "headers": {"Message-ID": "<1@firma.dk>"},
        }
    )
    assert message.get_body(("plain",)).get_content() == "t\n"
    assert message.get_body(("html",)).get_content() == "<p>h</p>\n"
    with pytest.raises(ValueError):
        compose(
            {
                "to": "ane@firma.dk",
                "from": "x@firma.dk",
                "subject": "Hi\r\nBcc: victim@else.example",
                "text": "t",
                "html": "h",
            }
        )


def test_console_backend_logs_the_message(app_context, app, caplog):
    with app.test_request_context():
        enqueue_email(
            "ane@firma.dk",
            "confirm",
            "en",
            {"confirm_url": "https://x/c/tok"},
            unsubscribe_url=UNSUBSCRIBE,
        )
        db.session.commit()
    with caplog.at_level(logging.INFO, logger="leadgate.mail"):
        assert drain().sent == 1
    assert "To: ane@firma.dk" in caplog.text and "https://x/c/tok" in caplog.text


def test_unknown_mail_url_is_refused_at_start(app_config):
    with pytest.raises(ValueError, match="MAIL_URL"):
        create_app({**app_config, "MAIL_URL": "pigeon://coop"})


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_credentials_from_the_url(make_smtp_server):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p@ss:word")

    server = make_smtp_server(
        authenticator=authenticator, auth_required=True, auth_require_tls=False
    )
    try:
        message = compose(
            {
                "to": "ane@firma.dk",
                "from": "no-reply@firma.dk",
                "subject": "s",
                "text": "t",
                "html": "h",
            }
        )
        SMTPBackend(f"smtp://mailer:p%40ss%3Aword@127.0.0.1:{server.port}", 5).send(message)
    finally:
        server.stop()
    assert logins == [(b"mailer", b"p@ss:word")]
    assert [str(m["To"]) for m in server.messages] == ["ane@firma.dk"]


@pytest.fixture
def moto_server(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_ses_backend_sends_the_raw_message(app_config, moto_server):
    ses = boto3.client("ses", region_name="eu-west-1", endpoint_url=moto_server)
    ses.verify_email_identity(EmailAddress="news@firma.dk")
    app = create_app(
        {
            **app_config,
            "MAIL_URL": f"ses://eu-west-1?endpoint_url={moto_server}",
            "MAIL_FROM": "Leadgate <news@firma.dk>",
        }
    )
    with app.app_context():
        db.create_all()
        try:
            with app.test_request_context():
                enqueue_email(
                    "ane@firma.dk",
                    "confirm",
                    "da",
                    {"confirm_url": "https://x/c/t"},
                    unsubscribe_url=UNSUBSCRIBE,
                )
                db.session.commit()
            assert drain().sent == 1
        finally:
            db.session.remove()
            db.engine.dispose()
    assert ses.get_send_quota()["SentLast24Hours"] == 1
