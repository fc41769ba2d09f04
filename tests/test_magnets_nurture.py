"""Nurture follow-ups: one e-mail N days after a download, only with marketing consent, through
the outbox and a real SMTP server, with the clock moved forward instead of waited for."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import yaml
from flask import Flask
from helpers import csrf_token_in
from markupsafe import escape

from capture.base.db import db, utcnow
from capture.base.lifecycle import Stage
from capture.delivery.optin import unsubscribe_url
from capture.leads.lead import Lead, move_stage
from capture.leads.privacy import erase
from capture.leads.scoring import ScoreChange
from capture.ops.worker import drain
from capture.web.tokens import Purpose, verify
from magnets.grants import Download
from magnets.magnet import get_magnet
from magnets.nurture import Nurture, NurtureSend
from magnets.nurturing import send_due

SUBJECTS = {"da": "Næste skridt", "sv": "Nästa steg", "en": "Next step"}
BODIES = {
    "da": "Hej igen. **Her er mere.**",
    "sv": "Hej igen. **Här är mer.** <script>alert(1)</script> ![x](https://track.example/p.gif)",
    "en": "Hello again. **Here is more.**",
}


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: Any) -> dict[str, Any]:
    return {**app_config, "MAIL_URL": smtp_server.url, "MAIL_TIMEOUT_SECONDS": 5}


@pytest.fixture
def guide(app: Flask, make_magnet: Any, make_form: Any) -> None:
    """A guide with a 3-day follow-up pointing at a second magnet, gated by a Swedish form."""
    make_magnet(title="Guiden", language="da")
    make_magnet(slug="checklist", title="Checklistan", language="sv")
    make_form(slug="get-it", language="sv", conversion="ebook_download", magnet="guide")
    with app.app_context():
        guide, nxt = get_magnet("guide"), get_magnet("checklist")
        assert guide is not None and nxt is not None
        db.session.add(
            Nurture(
                magnet_id=guide.id,
                after_days=3,
                subject=SUBJECTS,
                body=BODIES,
                next_magnet_id=nxt.id,
                meeting_url="https://cal.example/meet",
            )
        )
        db.session.commit()


def download(client: Any, submit: Any, email: str, marketing: bool) -> str:
    answer = submit(
        "get-it", {"email": email}, consents={"processing": True, "marketing": marketing}
    ).get_json()
    response = client.get(urlsplit(answer["download_url"]).path)
    assert response.status_code in (200, 302)
    response.close()
    return str(answer["lead"])


def lead(public_id: str) -> Lead:
    db.session.expire_all()
    found = db.session.scalar(sa.select(Lead).where(Lead.public_id == public_id))
    assert found is not None
    return found


def test_one_follow_up_after_three_days_in_the_leads_language_with_unsubscribe(
    app: Flask, app_context: None, client: Any, submit: Any, guide: None, smtp_server: Any,
    staff: Any,
) -> None:  # fmt: skip
    ane = download(client, submit, "ane@firma.se", marketing=True)
    now = utcnow()
    assert send_due(now + timedelta(days=2, hours=23)).sent == 0  # not yet
    drain()
    assert smtp_server.messages == []

    assert send_due(now + timedelta(days=3, minutes=1)).sent == 1
    assert send_due(now + timedelta(days=4)).sent == 0  # never twice
    assert send_due(now + timedelta(days=5)).sent == 0
    drain(now + timedelta(days=3, minutes=2))
    [message] = smtp_server.messages
    assert message["To"] == "ane@firma.se"
    assert message["Subject"] == "Nästa steg"
    url = message["List-Unsubscribe"].strip("<>")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.query) == ("http", "localhost", "lang=sv")
    assert verify(Purpose.UNSUBSCRIBE, parts.path.removeprefix("/u/"))[0] == ane
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert url in text and f'href="{url}"' in html  # the visible link too
    assert "<strong>Här är mer.</strong>" in html  # Markdown rendered in the lead's language
    assert "<script>" not in html  # and sanitised
    assert "track.example" not in html  # no remote images: no tracking pixels
    assert "https://cal.example/meet" in html

    # The next magnet's link is a download link of its own: clicking it scores like any.
    [next_link] = re.findall(r"http://localhost/d/\S+", text)
    before = lead(ane).score
    response = client.get(urlsplit(next_link).path)
    assert response.status_code in (200, 302)
    response.close()
    after = lead(ane)
    assert after.score > before
    checklist = get_magnet("checklist")
    assert checklist is not None
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Download.id)).where(
                Download.lead_id == after.id, Download.magnet_id == checklist.id
            )
        )
        == 1
    )
    assert (
        db.session.scalar(
            sa.select(sa.func.count(ScoreChange.id)).where(
                ScoreChange.lead_id == after.id, ScoreChange.event.contains("checklist")
            )
        )
        == 1
    )

    # On the lead's timeline.
    page = staff("marketer").get(f"/admin/leads/{ane}")
    assert "Follow-up e-mail after Guiden" in page.get_data(as_text=True)


def test_no_follow_up_without_consent_for_sales_leads_or_after_withdrawal_or_erasure(
    app: Flask, app_context: None, client: Any, submit: Any, guide: None, smtp_server: Any
) -> None:
    download(client, submit, "no-consent@firma.se", marketing=False)
    sql = download(client, submit, "sql@firma.se", marketing=True)
    withdrawn = download(client, submit, "withdrawn@firma.se", marketing=True)
    erased = download(client, submit, "erased@firma.se", marketing=True)
    move_stage(lead(sql), Stage.SQL, reason="a call", actor="test")
    erase(lead(erased), "test")
    db.session.commit()
    with app.test_request_context():
        path = urlsplit(unsubscribe_url(withdrawn)).path
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    result = send_due(utcnow() + timedelta(days=3, minutes=1))
    assert result.sent == 0
    assert result.no_consent == 2  # without consent, and withdrawn
    drain(utcnow() + timedelta(days=3, minutes=2))
    assert smtp_server.messages == []
    assert db.session.scalar(sa.select(sa.func.count(NurtureSend.id))) == 0


def test_too_late_or_disabled_sends_nothing(
    app: Flask, app_context: None, client: Any, submit: Any, guide: None
) -> None:
    download(client, submit, "late@firma.se", marketing=True)
    grace = app.config["NURTURE_GRACE_DAYS"]
    assert send_due(utcnow() + timedelta(days=3 + grace, hours=1)).sent == 0
    nurture = db.session.scalar(sa.select(Nurture))
    assert nurture is not None
    nurture.enabled = False
    db.session.commit()
    assert send_due(utcnow() + timedelta(days=3, minutes=1)).sent == 0


def test_erasure_cancels_a_queued_follow_up_and_export_lists_it(
    app: Flask, app_context: None, client: Any, submit: Any, guide: None, smtp_server: Any
) -> None:
    from capture.leads.privacy import personal_data

    ane = download(client, submit, "ane@firma.se", marketing=True)
    assert send_due(utcnow() + timedelta(days=3, minutes=1)).sent == 1
    assert len(personal_data(lead(ane))["nurture_follow_ups"]) == 1
    erase(lead(ane), "test")
    db.session.commit()
    drain(utcnow() + timedelta(days=3, minutes=2))
    assert smtp_server.messages == []


def test_back_office_sets_the_follow_up(
    app: Flask, app_context: None, make_magnet: Any, staff: Any
) -> None:
    make_magnet(title="Guiden")
    make_magnet(slug="checklist", title="Checklistan")
    marketer = staff("marketer")
    edit = marketer.get("/admin/magnets/guide").get_data(as_text=True)
    assert 'href="/admin/magnets/guide/nurture"' in edit
    page = marketer.get("/admin/magnets/guide/nurture")
    assert page.status_code == 200
    token = csrf_token_in(page.get_data(as_text=True))
    checklist = get_magnet("checklist")
    assert checklist is not None
    form = {
        "csrf_token": token, "enabled": "y", "after_days": "5", "next_magnet": str(checklist.id),
        "meeting_url": "", "subject_da": "Næste skridt", "body_da": "**Mere**",
    }  # fmt: skip
    assert marketer.post("/admin/magnets/guide/nurture", data=form).status_code == 303
    db.session.expire_all()
    nurture = db.session.scalar(sa.select(Nurture))
    assert nurture is not None
    assert (nurture.after_days, nurture.subject, nurture.body) == (
        5,
        {"da": "Næste skridt"},
        {"da": "**Mere**"},
    )
    assert nurture.next_magnet_id == checklist.id
    bad = marketer.post("/admin/magnets/guide/nurture", data={**form, "body_da": ""})
    assert bad.status_code == 422
    plain_http = {**form, "meeting_url": "http://cal.example/"}
    assert marketer.post("/admin/magnets/guide/nurture", data=plain_http).status_code == 422
    assert (
        marketer.post("/admin/magnets/guide/nurture", data={**form, "csrf_token": ""}).status_code
        == 400
    )
    assert staff("sales").get("/admin/magnets/guide/nurture").status_code in (302, 303, 403)


def test_yaml_import_and_export(
    app: Flask, app_context: None, make_magnet: Any, runner: Any, tmp_path: Any
) -> None:
    make_magnet(title="Guiden")
    make_magnet(slug="checklist", title="Checklistan")
    document = {
        "magnet": "guide",
        "after_days": 3,
        "subject": {"da": "Næste skridt"},
        "body": {"da": "Hej **igen**"},
        "next_magnet": "checklist",
        "meeting_url": "https://cal.example/meet",
    }
    path = tmp_path / "nurture.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["nurture", "import", str(path)])
    assert result.exit_code == 0, result.output
    exported = runner.invoke(args=["nurture", "export", "guide"])
    assert exported.exit_code == 0
    assert yaml.safe_load(exported.output) == {**document, "enabled": True}

    path.write_text(yaml.safe_dump({**document, "after_days": 0, "colour": "red"}))
    refused = runner.invoke(args=["nurture", "import", str(path)])
    assert refused.exit_code == 1
    assert "after_days" in refused.output and "colour: unknown key" in refused.output
    assert runner.invoke(args=["nurture", "export", "nope"]).exit_code == 1
    sent = runner.invoke(args=["nurture", "send"])
    assert sent.exit_code == 0 and "0 follow-ups queued" in sent.output


@pytest.mark.parametrize(
    "value",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'><svg onload=alert(1)>"],
)
def test_lead_and_magnet_data_are_escaped_in_the_follow_up(
    app: Flask, app_context: None, client: Any, submit: Any, make_magnet: Any, make_form: Any,
    smtp_server: Any, value: str,
) -> None:  # fmt: skip
    make_magnet(title="Guiden")
    make_magnet(slug="checklist", title=value)
    make_form(
        slug="get-it",
        conversion="ebook_download",
        magnet="guide",
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text"},
        ],
    )
    guide, nxt = get_magnet("guide"), get_magnet("checklist")
    assert guide is not None and nxt is not None
    db.session.add(
        Nurture(
            magnet_id=guide.id, after_days=1, subject={"en": value}, body={"en": value},
            next_magnet_id=nxt.id,
        )
    )  # fmt: skip
    db.session.commit()
    answer = submit(
        "get-it",
        {"email": "x@firma.dk", "first_name": value},
        {"processing": True, "marketing": True},
    ).get_json()
    client.get(urlsplit(answer["download_url"]).path).close()
    assert send_due(utcnow() + timedelta(days=1, minutes=1)).sent == 1
    drain()
    [message] = smtp_server.messages
    html = message.get_body(("html",)).get_content()
    for tag in ("<script", "<img", "<svg"):
        assert tag not in html.lower()
    assert str(escape(value)) in html  # the payload is there, escaped: something was proven
    assert value in message.get_body(("plain",)).get_content()
