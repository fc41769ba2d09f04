"""E-mail: rendering localised templates into messages, and the backends that send them.

Nothing sends mail directly: `capture.delivery.outbox.enqueue_email` renders a message into an
outbox row in the caller's transaction, and the worker hands it to the backend chosen by
`MAIL_URL`: `console://`, `smtp://user:pass@host:port` (`?starttls=1`), `smtps://...` or `ses://region`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

import boto3
from botocore.config import Config
from flask import Flask, current_app
from flask_babel import force_locale

log = logging.getLogger("leadgate.mail")


class Undeliverable(Exception):
    """The message can never be delivered as it is (address refused): do not retry."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(template: str, language: str, **context: Any) -> RenderedEmail:
    """Render `email/<template>.txt` and `.html` in `language`.

    The text template sets `subject` (`{% set subject = _("...") %}`); the HTML one is
    autoescaped, so lead data in the context cannot inject markup.
    """
    env = current_app.jinja_env
    with force_locale(language):
        text_module = env.get_template(f"email/{template}.txt").make_module(
            {"language": language, **context}
        )
        html = env.get_template(f"email/{template}.html").render(language=language, **context)
    subject = " ".join(str(getattr(text_module, "subject", "")).split())
    return RenderedEmail(subject=subject, text=str(text_module).strip() + "\n", html=html)


def message_id() -> str:
    """A Message-ID on the sender's domain, fixed when the message is queued so that a retry
    after an unclear failure carries the same id and receivers can drop the duplicate."""
    domain = parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def compose(payload: dict[str, Any]) -> EmailMessage:
    """The message an outbox payload describes: text and HTML alternatives plus its headers."""
    message = EmailMessage()
    message["From"] = payload["from"]
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(usegmt=True)
    for name, value in payload.get("headers", {}).items():
        message[name] = value
    message.set_content(payload["text"])
    message.add_alternative(payload["html"], subtype="html")
    return message


def list_unsubscribe_headers(url: str, mailto: str | None = None) -> dict[str, str]:
    """RFC 2369 and RFC 8058 one-click headers: mail clients show an Unsubscribe button and
    POST `List-Unsubscribe=One-Click` to the https URL. `mailto` (MAIL_UNSUBSCRIBE_MAILTO)
    adds an address for clients that only write e-mails; whoever reads it acts on them."""
    targets = [f"<{url}>"]
    if mailto:
        targets.append(f"<mailto:{quote(mailto, safe='@')}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


class MailBackend(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class ConsoleBackend:
    """Development: the message goes to the log (stderr) instead of the network."""

    def __init__(self) -> None:
        # capture.ops.logs puts a handler on the root logger (JSON, addresses masked); this one is
        # for a bare logging setup only, or every message would be printed twice.
        if not log.hasHandlers():
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(handler)
        log.setLevel(logging.INFO)

    def send(self, message: EmailMessage) -> None:
        text = message.get_body(("plain",))
        headers = "\n".join(f"{name}: {value}" for name, value in message.items())
        body = text.get_content() if text is not None else ""
        log.info("--- e-mail (console://, not sent) ---\n%s\n\n%s---", headers, body)


class SMTPBackend:
    """A connection per message: simple, and nothing half-open survives a server restart."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.implicit_tls = parts.scheme == "smtps"
        self.starttls = query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes"}
        self.host = parts.hostname or "localhost"
        default_port = 465 if self.implicit_tls else (587 if self.starttls else 25)
        self.port = parts.port or default_port
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                if codes and all(code >= 500 for code in codes):
                    raise Undeliverable(f"recipient refused: {exc.recipients}") from exc
                raise


class SESBackend:
    """Amazon SES v2 with the raw message, so our headers (List-Unsubscribe) go out as built.

    The client is made once per process, with the default credential chain.
    """

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        # `?endpoint_url=` reaches an SES-compatible endpoint (a local emulator in tests).
        endpoint = parse_qs(parts.query).get("endpoint_url", [None])[0]
        self.client = boto3.client(
            "sesv2",
            region_name=parts.hostname or None,
            endpoint_url=endpoint,
            config=Config(connect_timeout=timeout, read_timeout=timeout),
        )

    def send(self, message: EmailMessage) -> None:
        # Recipients come from the headers. Every SES error is retried: a rejection is most
        # often configuration (an unverified sender, the sandbox) fixed within the day.
        self.client.send_email(Content={"Raw": {"Data": message.as_bytes()}})


def backend_from_url(url: str, timeout: float = 20.0) -> MailBackend:
    scheme = urlsplit(url).scheme
    if scheme == "console":
        return ConsoleBackend()
    if scheme in {"smtp", "smtps"}:
        return SMTPBackend(url, timeout)
    if scheme == "ses":
        return SESBackend(url, timeout)
    raise ValueError(f"MAIL_URL: unknown scheme {scheme!r} (console, smtp, smtps or ses)")


def backend() -> MailBackend:
    """The app's backend, built on first use (a boto3 client is costly to make per message)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("leadgate.mail")
    if cached is None:
        cached = backend_from_url(app.config["MAIL_URL"], app.config["MAIL_TIMEOUT_SECONDS"])
        app.extensions["leadgate.mail"] = cached
    return cached


def send(message: EmailMessage) -> None:
    backend().send(message)


def init_app(app: Flask) -> None:
    # Fail at start-up, not at the first e-mail, on a MAIL_URL we cannot read.
    scheme = urlsplit(app.config["MAIL_URL"]).scheme
    if scheme not in {"console", "smtp", "smtps", "ses"}:
        raise ValueError(f"MAIL_URL: unknown scheme {scheme!r} (console, smtp, smtps or ses)")
