"""Structured logs: JSON lines on stderr, one request id per request, no personal data."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from helpers import free_port

from capture.ops.logs import incoming_id, mask
from capture.ops.worker import drain

pytestmark = pytest.mark.app_config(LOG_FORMAT="json")


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line on stderr must be one JSON object: a collector parses them all."""
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_every_line_of_a_submission_carries_the_request_id(app, make_form, submit, capsys):
    make_form(slug="captcha-form")
    # The CAPTCHA provider is unreachable: the app logs a warning inside the request.
    app.config.update(
        CAPTCHA_PROVIDER="turnstile",
        CAPTCHA_SITE_KEY="site-key",
        CAPTCHA_SECRET="secret",
        CAPTCHA_VERIFY_URL=f"http://127.0.0.1:{free_port()}/siteverify",
        CAPTCHA_TIMEOUT=2,
    )
    capsys.readouterr()
    token = app.test_client().get("/api/v1/forms/captcha-form").get_json()["token"]
    capsys.readouterr()
    response = app.test_client().post(
        "/api/v1/forms/captcha-form/submissions",
        json={
            "fields": {"email": "ane@firma.dk"},
            "consents": {"processing": True},
            "token": token,
            "captcha": "an-answer",
        },
        headers={"X-Request-ID": "req-7f3a.upstream"},
    )
    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == "req-7f3a.upstream"

    records = json_lines(capsys.readouterr().err)
    assert records, "the request logged nothing"
    assert {r.get("request_id") for r in records} == {"req-7f3a.upstream"}
    warning = next(r for r in records if r["logger"] == "capture.submissions.captcha")
    assert (
        warning["level"] == "WARNING" and "CAPTCHA verification unavailable" in warning["message"]
    )
    (access,) = [r for r in records if r["logger"] == "leadgate.access"]
    assert access["method"] == "POST"
    assert access["path"] == "/api/v1/forms/captcha-form/submissions"
    assert access["status"] == 201
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert "time" in access


def test_requests_without_an_id_get_distinct_generated_ones(client, capsys):
    first = client.get("/healthz")
    second = client.get("/healthz")
    ids = {first.headers["X-Request-ID"], second.headers["X-Request-ID"]}
    assert len(ids) == 2 and all(len(ident) == 32 for ident in ids)
    access = [r for r in json_lines(capsys.readouterr().err) if r["logger"] == "leadgate.access"]
    assert {r["request_id"] for r in access} == ids


@pytest.mark.parametrize(
    "bogus",
    [
        "x" * 129,
        "abc\x01def",
        "id with spaces",
        "ane@firma.dk",
        "<script>alert(1)</script>",
        '"},{"level":"CRITICAL',
    ],
)
def test_a_bogus_incoming_request_id_is_replaced(client, capsys, bogus):
    response = client.get("/healthz", headers={"X-Request-ID": bogus})
    ident = response.headers["X-Request-ID"]
    assert ident != bogus and len(ident) == 32
    (access,) = [r for r in json_lines(capsys.readouterr().err) if r["logger"] == "leadgate.access"]
    assert access["request_id"] == ident
    assert incoming_id(bogus) != bogus


def test_a_submitted_email_never_appears_in_the_logs(
    app_context, app, make_form, submit, client, capsys
):
    make_form(slug="doi", double_opt_in=True)
    response = submit(
        "doi",
        {"email": "ane.hansen@firma.dk"},
        consents={"processing": True, "marketing": True},
    )
    assert response.status_code == 201
    # An address in a path (someone pasting it into a URL), encoded too.
    client.get("/f/ane.hansen@firma.dk")
    client.get("/f/ane.hansen%40firma.dk")
    # The confirmation e-mail goes to the console backend: the log, outside any request.
    assert drain().sent == 1
    logging.getLogger("capture.test").warning(
        "lead %s from %s",
        "ane.hansen@firma.dk",
        "203.0.113.57",
        extra={"who": "ane.hansen@firma.dk"},
    )

    err = capsys.readouterr().err
    records = json_lines(err)
    assert any("To: a***@firma.dk" in r["message"] for r in records), "the e-mail was not logged"
    assert any(r.get("path", "").startswith("/f/a***") for r in records)
    assert "ane.hansen" not in err and "ane.hansen%40" not in err
    assert "203.0.113.57" not in err and "203.0.113.x" in err


def test_tokens_in_link_paths_and_query_strings_stay_out_of_access_lines(client, capsys):
    client.get("/d/secret-download-token?utm_source=mail")
    client.get("/healthz?email=ane@firma.dk")
    err = capsys.readouterr().err
    paths = [r["path"] for r in json_lines(err) if r["logger"] == "leadgate.access"]
    assert paths == ["/d/[redacted]", "/healthz"]
    assert "secret-download-token" not in err and "utm_source" not in err


def test_exceptions_are_masked_too(app, capsys):
    try:
        raise ValueError("refused <ane@firma.dk>")
    except ValueError:
        logging.getLogger("capture.test").exception("delivery failed")
    (record,) = json_lines(capsys.readouterr().err)
    assert (
        record["level"] == "ERROR" and "ValueError: refused <a***@firma.dk>" in record["exc_info"]
    )


def test_a_line_orjson_refuses_is_written_all_the_same(app, capsys):
    """A lone surrogate (JSON bodies may carry one) or a huge integer in a record: orjson
    refuses them, the standard library writes them, and the line is not lost. (The surrogate
    is in an extra, not the message: pytest-xdist cannot send a report whose captured log
    holds one.)"""
    logger = logging.getLogger("capture.test")
    logger.warning("odd value", extra={"value": "\ud800", "ok": "Åse"})
    logger.warning("big count", extra={"count": 2**70})
    odd, big = json_lines(capsys.readouterr().err)
    assert (odd["message"], odd["value"], odd["ok"]) == ("odd value", "\ud800", "Åse")
    assert (big["message"], big["count"]) == ("big count", 2**70)


def test_other_handlers_still_see_the_original_record(app, caplog, capsys):
    """Masking works on a copy: what pytest (or an operator's error tracker) gets is intact."""
    with caplog.at_level(logging.INFO, logger="capture.test"):
        logging.getLogger("capture.test").info("to %s", "ane@firma.dk")
    assert "to ane@firma.dk" in caplog.text
    assert "a***@firma.dk" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ane@firma.dk", "a***@firma.dk"),
        ("To: Ane <ane.b+news@sub.firma.co.uk>", "To: Ane <a***@sub.firma.co.uk>"),
        ("ærlig@æble.dk", "æ***@æble.dk"),
        ("from 198.51.100.20:5432", "from 198.51.100.x:5432"),
        (" * Running on http://127.0.0.1:5000", " * Running on http://127.0.0.1:5000"),
        ("database 10.0.0.5:5432 refused", "database 10.0.0.5:5432 refused"),
        ("proxy 192.168.10.20 and ::1", "proxy 192.168.10.20 and ::1"),
        ("2001:db8:1234:5678::1 asked", "2001:db8:1234::x asked"),
        ("at 14:44:03 version 1.2.3", "at 14:44:03 version 1.2.3"),
        ("999.1.1.1 is no address", "999.1.1.1 is no address"),
        (
            '127.0.0.1 - - [23/Nov/2026] "GET /d/ImRsXzEyMyI.aSk3Zw.Qx-y_z HTTP/1.1" 302 -',
            '127.0.0.1 - - [23/Nov/2026] "GET /d/[redacted] HTTP/1.1" 302 -',
        ),
        ("see https://x.example/c/eyJhbGciOiJIUzI1NiJ9.abc", "see https://x.example/c/[redacted]"),
        ("/admin/d/leads and a/d/short", "/admin/d/leads and a/d/short"),
    ],
)
def test_mask(text, masked):
    assert mask(text) == masked


@pytest.mark.app_config(LOG_FORMAT="text")
def test_text_format_for_development(client, capsys):
    response = client.get("/healthz", headers={"X-Request-ID": "dev-1"})
    assert response.status_code == 200
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "INFO leadgate.access [dev-1] GET /healthz 200" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
