"""Self-service access and erasure from the links in a person's e-mail: no login, no cookie,
GET changes nothing, the export and the erasure go to the address on file, the back office
lists each request and the admins hear of it."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from capture.base.db import db
from capture.delivery.optin import unsubscribe_url
from capture.delivery.outbox import OutboxMessage
from capture.delivery.selfservice import PrivacyRequest
from capture.leads.lead import Lead
from capture.ops.worker import drain


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: Any) -> dict[str, Any]:
    return {**app_config, "MAIL_URL": smtp_server.url, "MAIL_TIMEOUT_SECONDS": 5}


@pytest.fixture
def person(app: Flask, make_form: Any, submit: Any) -> tuple[str, str]:
    """(lead public id, the preference page path /u/<token>) of a Danish lead."""
    make_form(language="da")
    answer = submit("test-form", {"email": "ane@firma.dk"}, {"processing": True, "marketing": True})
    lead_id = answer.get_json()["lead"]
    with app.test_request_context():
        path = urlsplit(unsubscribe_url(lead_id)).path
    return lead_id, path


def counts() -> tuple[int, int]:
    db.session.expire_all()
    return (
        db.session.scalar(sa.select(sa.func.count(PrivacyRequest.id))) or 0,
        db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) or 0,
    )


def link_in(message: Any, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    [url] = re.findall(rf"http://localhost{path}/\S+", text)
    return urlsplit(url).path


def test_export_by_email_link(
    app: Flask, app_context: None, person: tuple[str, str], smtp_server: Any, staff: Any
) -> None:
    admin = staff("admin")
    lead_id, page = person
    anonymous = app.test_client()
    before = counts()
    shown = anonymous.get(f"{page}/data?lang=da")
    assert shown.status_code == 200
    assert f'action="{page}/data?lang=da"' in shown.get_data(as_text=True)
    assert counts() == before  # GET is side-effect free

    assert anonymous.post(f"{page}/data").status_code == 200
    assert anonymous.post(f"{page}/data").status_code == 200  # a double click: one e-mail
    [request] = db.session.scalars(sa.select(PrivacyRequest)).all()
    assert (request.kind, request.status) == ("export", "sent")
    drain()
    to_person = [m for m in smtp_server.messages if m["To"] == "ane@firma.dk"]
    notices = [m for m in smtp_server.messages if m["To"] != "ane@firma.dk"]
    [mail] = to_person
    assert len(notices) == 1 and lead_id in notices[0].get_body(("plain",)).get_content()
    assert "ane@firma.dk" not in notices[0].as_string()  # staff get the id, not the address

    download = anonymous.get(link_in(mail, "/privacy/export"))
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(download.get_data())
    assert data["lead"]["email"] == "ane@firma.dk"
    assert data["privacy_requests"][0]["kind"] == "export"
    assert anonymous.get("/privacy/export/not-a-token").status_code == 404

    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 4 * 86400

    old = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt="leadgate.privacy-export", signer=Old
    ).dumps(request.public_id)
    assert anonymous.get(f"/privacy/export/{old}").status_code == 410

    listing = admin.get("/admin/privacy-requests/").get_data(as_text=True)
    assert lead_id in listing and "Export of their data" in listing
    assert 'href="/admin/privacy-requests/"' in listing  # in the nav


def test_erasure_needs_the_second_link_and_a_post(
    app: Flask, app_context: None, person: tuple[str, str], smtp_server: Any, staff: Any
) -> None:
    lead_id, page = person
    anonymous = app.test_client()
    assert anonymous.get(f"{page}/erase").status_code == 200
    assert counts()[0] == 0
    assert anonymous.post(f"{page}/erase").status_code == 200
    drain()
    [mail] = [m for m in smtp_server.messages if m["To"] == "ane@firma.dk"]
    confirm = link_in(mail, "/privacy/erase")

    assert anonymous.get(confirm).status_code == 200  # the page asks once more
    db.session.expire_all()
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == lead_id))
    assert lead is not None and lead.erased_at is None

    done = anonymous.post(confirm)
    assert done.status_code == 200
    db.session.expire_all()
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == lead_id))
    assert lead is not None and lead.erased_at is not None
    assert lead.email.endswith("@erased.invalid")
    [request] = db.session.scalars(sa.select(PrivacyRequest)).all()
    assert (request.kind, request.status) == ("erasure", "completed")
    assert request.completed_at is not None
    assert anonymous.post(confirm).status_code == 200  # a second click: still done, no error
    assert anonymous.get(f"{page}/data").status_code == 410  # every link of theirs stops
    assert anonymous.post(f"{page}/erase").status_code == 410

    admin = staff("admin")
    listing = admin.get("/admin/privacy-requests/").get_data(as_text=True)
    assert "Erasure" in listing and "Erased" in listing
    assert staff("marketer").get("/admin/privacy-requests/").status_code in (302, 303, 403)


def test_bad_tokens_are_refused_with_the_error_shape(app: Flask, contract_error: Any) -> None:
    client = app.test_client()
    for path in ("/u/nope/data", "/u/nope/erase", "/privacy/erase/nope"):
        contract_error(client.post(path, headers={"Accept": "application/json"}), 404, "not_found")
