"""Text a visitor did not type is not stored: undecodable bytes are refused, invisible
format characters (U+202E and friends, zero-width characters, the BOM) are stripped.

An url-encoded post with invalid UTF-8 was stored as the literal `%ff%fe...`, and a right-to-
left override in a name reversed what the back office and the exports showed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from capture.forms.values import strip_format_characters
from capture.leads.lead import Lead
from capture.submissions.submission import Submission


def hidden_inputs(client: Any, slug: str) -> dict[str, str]:
    page = BeautifulSoup(client.get(f"/f/{slug}").get_data(as_text=True), "html.parser")
    return {i["name"]: i.get("value", "") for i in page.select("form input[type=hidden]")}


def encoded(values: dict[str, str]) -> bytes:
    return urlencode(values).encode()


@pytest.fixture
def form(make_form):
    return make_form(
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text"},
            {"name": "company", "type": "text"},
            {"name": "message", "type": "textarea"},
        ]
    )


def test_a_hosted_post_with_invalid_utf8_is_a_400_page_and_stores_nothing(client, form, rows):
    body = encoded(hidden_inputs(client, "test-form") | {"consent_processing": "y"})
    body += b"&email=ane%40firma.dk&first_name=%ff%feAne"
    answer = client.post(
        "/f/test-form", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 400
    assert answer.mimetype == "text/html"
    assert "UTF-8" in answer.get_data(as_text=True)
    assert rows(Lead) == [] and rows(Submission) == []
    # Raw bytes, unescaped, the same; `%25ff` is the text "%ff" and is fine.
    raw = encoded(hidden_inputs(client, "test-form") | {"consent_processing": "y"})
    answer = client.post(
        "/f/test-form",
        data=raw + b"&email=ane%40firma.dk&first_name=\xffAne",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 400
    fine = raw + b"&email=ane%40firma.dk&first_name=100%25ff"
    answer = client.post(
        "/f/test-form", data=fine, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    [lead] = rows(Lead)
    assert lead.first_name == "100%ff"


def test_an_api_form_post_with_invalid_utf8_is_a_400_in_the_error_shape(
    client, form, rows, contract_error
):
    token = client.get("/api/v1/forms/test-form").get_json()["token"]
    body = encoded({"token": token, "consent_processing": "true", "email": "ane@firma.dk"})
    answer = client.post(
        "/api/v1/forms/test-form/submissions",
        data=body + b"&company=%c3%28",
        content_type="application/x-www-form-urlencoded",
    )
    assert contract_error(answer, 400)["message"] == "The form is not valid UTF-8."
    multipart = (
        b'--B\r\nContent-Disposition: form-data; name="email"\r\n\r\nane@firma.dk\r\n'
        b'--B\r\nContent-Disposition: form-data; name="token"\r\n\r\n' + token.encode() + b"\r\n"
        b'--B\r\nContent-Disposition: form-data; name="first_name"\r\n\r\n\xff\xfeAne\r\n--B--\r\n'
    )
    answer = client.post(
        "/api/v1/forms/test-form/submissions",
        data=multipart,
        content_type="multipart/form-data; boundary=B",
    )
    assert contract_error(answer, 400)["message"] == "The form is not valid UTF-8."
    assert rows(Submission) == []


TRICKS = {
    "first_name": "\u202eAne\u202c",
    "company": "\ufeffFir\u200bma\u2066 ApS\u2069",
    "message": "Hej\u00ad\u200e\nfamilien 👨\u200d👩\u200d👧 og\u200dikke",
}
CLEAN = {
    "first_name": "Ane",
    "company": "Firma ApS",
    "message": "Hej\nfamilien 👨\u200d👩\u200d👧 ogikke",
}


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_format_characters_are_stripped_from_api_and_embed_submissions(
    client, submit, form, rows, content_type
):
    token = client.get("/api/v1/forms/test-form").get_json()["token"]
    body = {
        "fields": {"email": "\u200bane@firma.dk\ufeff", **TRICKS},
        "consents": {"processing": True},
        "context": {"utm_source": "link\u202eedin", "utm_campaign": "\u200b"},
        "token": token,
    }
    answer = client.post(
        "/api/v1/forms/test-form/submissions",
        data=json.dumps(body),
        content_type=content_type,
    )
    assert answer.status_code == 201, answer.get_json()
    [lead] = rows(Lead)
    assert lead.email == "ane@firma.dk"
    assert {k: getattr(lead, k) for k in CLEAN} == CLEAN
    assert lead.first_touch["utm_source"] == "linkedin"
    assert "utm_campaign" not in lead.first_touch


def test_format_characters_are_stripped_from_hosted_posts(client, form, rows):
    data = hidden_inputs(client, "test-form") | {"consent_processing": "y"}
    answer = client.post("/f/test-form", data=data | {"email": "ane@firma.dk", **TRICKS})
    assert answer.status_code == 200
    [lead] = rows(Lead)
    assert {k: getattr(lead, k) for k in CLEAN} == CLEAN


def test_only_a_joiner_between_emoji_is_kept():
    assert (
        strip_format_characters("👩🏽\u200d💻 a\u200db \u200d👩 👩\u200d")
        == "👩🏽\u200d💻 ab 👩 👩"
    )
    assert strip_format_characters("\U000e0067tag\U000e007f") == "tag"
    assert strip_format_characters("plain ascii") == "plain ascii"
