"""Links by e-mail, through the outbox and a real SMTP server: `email_magnet`, double opt-in
(nothing until confirmed, then the link by e-mail once) and fresh links for expired ones."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import expired_link, renew_token

from capture.base.db import db
from capture.delivery.outbox import OutboxMessage
from capture.forms.definition import parse_definition
from capture.forms.spec import DefinitionError
from capture.web.tokens import Purpose, sign
from magnets.demo import guide_pdf
from magnets.grants import Download, DownloadGrant

CONSENTS = [{"purpose": "processing", "required": True, "text": "We process it."}]


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: Any) -> dict[str, Any]:
    return {**app_config, "MAIL_URL": smtp_server.url, "MAIL_TIMEOUT_SECONDS": 5}


def send_all(runner: Any) -> None:
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output


def links_in(message: Any) -> list[str]:
    text = message.get_body(("plain",)).get_content()
    return re.findall(r"http://localhost/[cd]/\S+", text)


def outbox(template: str) -> list[OutboxMessage]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [row for row in rows if row.payload.get("template") == template]


def test_email_magnet_shows_the_link_and_mails_it(
    app: Flask, runner: Any, client: Any, make_magnet: Any, make_form: Any, submit: Any,
    smtp_server: Any,
) -> None:  # fmt: skip
    make_magnet(title="Guiden", language="da")
    make_form(slug="get-it", language="da", magnet="guide", email_magnet=True)
    answer = submit("get-it", {"email": "ane@firma.dk"}).get_json()
    assert answer["download_url"]
    send_all(runner)
    [message] = smtp_server.messages
    assert message["To"] == "ane@firma.dk"
    assert "Guiden" in message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated"
    # The person asked for it, and like every e-mail to a lead it carries a one-click
    # unsubscribe (RFC 8058) and a visible link, in the e-mail's language.
    assert message["List-Unsubscribe"].startswith("<http://localhost/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    assert "Afmeld eller ændr dine samtykker: http://localhost/u/" in text
    assert links_in(message) == [answer["download_url"]]
    html = message.get_body(("html",)).get_content()
    assert f'href="{answer["download_url"]}"' in html
    download = client.get(urlsplit(answer["download_url"]).path)
    assert download.get_data() == guide_pdf()
    download.close()


def test_email_magnet_is_part_of_the_canonical_definition(
    app_context: None, app: Flask, make_form: Any
) -> None:
    plain = make_form(slug="plain", magnet="guide")
    assert "email_magnet" not in plain.document
    mailed = make_form(slug="mailed", magnet="guide", email_magnet=True)
    assert mailed.document["email_magnet"] is True
    assert mailed.digest != plain.digest


def test_email_magnet_needs_a_magnet_and_a_boolean() -> None:
    base = {"slug": "f", "name": "F", "conversion": "ebook_download", "consents": CONSENTS}
    with pytest.raises(DefinitionError) as missing:
        parse_definition({**base, "email_magnet": True})
    assert missing.value.problems == ["email_magnet: needs a magnet to e-mail"]
    with pytest.raises(DefinitionError) as wrong:
        parse_definition({**base, "magnet": "guide", "email_magnet": "yes"})
    assert wrong.value.problems == ["email_magnet: must be true or false"]
    assert parse_definition({**base, "magnet": "guide", "email_magnet": True}).email_magnet


def test_double_opt_in_delivers_only_after_confirmation_and_once(app_context: None,
    app: Flask, runner: Any, client: Any, make_magnet: Any, make_form: Any, submit: Any,
    smtp_server: Any,
) -> None:  # fmt: skip
    make_magnet()
    make_form(slug="doi", magnet="guide", double_opt_in=True)
    answer = submit("doi", {"email": "ane@firma.dk"}).get_json()
    assert answer["download_url"] is None and answer["confirmation_required"] is True
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DownloadGrant)) == 0
    send_all(runner)
    [confirmation] = smtp_server.messages
    [confirm_url] = links_in(confirmation)
    assert "/c/" in confirm_url and "/d/" not in confirmation.get_body(("plain",)).get_content()

    for _ in range(2):  # a person and a mail scanner both click
        assert client.get(urlsplit(confirm_url).path).status_code == 200
    send_all(runner)
    assert len(smtp_server.messages) == 2
    [link] = links_in(smtp_server.messages[1])
    grant = db.session.scalar(sa.select(DownloadGrant))
    assert grant.source == "confirmation" and grant.submission_id is not None
    download = client.get(urlsplit(link).path)
    assert download.status_code == 200 and download.get_data() == guide_pdf()
    download.close()


def test_an_expired_link_gets_a_fresh_one_at_the_address_on_file(app_context: None,
    app: Flask, runner: Any, client: Any, make_magnet: Any, make_form: Any, submit: Any,
    smtp_server: Any,
) -> None:  # fmt: skip
    url = expired_link(app, make_magnet, make_form, submit)
    token = renew_token(client, url)
    response = client.post("/d/renew", data={"token": token, "email": "evil@example.com"})
    assert response.status_code == 202
    assert "ane@firma.dk" not in response.get_data(as_text=True)
    again = client.post("/d/renew", data={"token": token})  # a second click sends nothing new
    assert again.status_code == 202
    send_all(runner)
    [message] = smtp_server.messages
    assert message["To"] == "ane@firma.dk"
    assert "Hi Ane," in message.get_body(("plain",)).get_content()
    [fresh] = links_in(message)
    assert fresh != url
    grants = db.session.scalars(sa.select(DownloadGrant).order_by(DownloadGrant.id)).all()
    assert [g.source for g in grants] == ["submission", "fresh_link"]
    assert grants[1].renewed_from_id == grants[0].id
    download = client.get(urlsplit(fresh).path)
    assert download.status_code == 200
    download.close()
    assert client.get(urlsplit(url).path).status_code == 410  # the old one stays expired
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 1


def test_renewal_refuses_forged_tokens(
    app_context: None, app: Flask, client: Any, make_magnet: Any, make_form: Any, submit: Any
) -> None:
    url = expired_link(app, make_magnet, make_form, submit)
    grant = db.session.scalar(sa.select(DownloadGrant))
    for forged in (
        "",
        "nonsense",
        sign(Purpose.DOWNLOAD, grant.public_id),  # the link's own token is not the offer's
        sign(Purpose.FRESH_LINK, "dlg_unknown"),
    ):
        assert client.post("/d/renew", data={"token": forged}).status_code == 404
    assert client.get("/d/renew").status_code == 404  # a GET is a link with token "renew"
    assert renew_token(client, url)
    assert outbox("fresh_link") == []
