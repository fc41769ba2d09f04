"""Allowed origins are origins and nothing more, in every channel, and the CSP is built from them.

`https://*`, `https://partner.example *` and `https://x.example;frame-ancestors *` were taken
and went straight into the Content-Security-Policy of the embedded form page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.origins import is_allowed_origin, normalise_origin
from capture.forms.spec import DefinitionError
from capture.forms.store import FormDefinition, get_form

BAD = [
    "https://*",
    "https://*.example.com",
    "https://partner.example *",
    "https://x.example;frame-ancestors *",
    "https://x.example, https://y.example",
    "https://x.example/path",
    "https://x.example?q",
    "https://user@x.example",
    "https://x_y.example",
    "https://-x.example",
    "https://x..example",
    "https://x.example:0",
    "https://x.example:70000",
    "https://[::1",
    "https://'self'",
    "ftp://x.example",
    "*",
    "null",
]
GOOD = {
    "https://www.partner.example": "https://www.partner.example",
    "HTTPS://Www.Partner.Example:443/": "https://www.partner.example",
    "http://localhost:8080": "http://localhost:8080",
    "https://bücher.example": "https://xn--bcher-kva.example",
    "http://[0:0::1]:5000": "http://[::1]:5000",
    "https://192.0.2.1": "https://192.0.2.1",
}
DEFINITION = {
    "slug": "partner-form",
    "name": "Partner form",
    "conversion": "newsletter_signup",
    "consents": [{"purpose": "processing", "required": True, "text": {"en": "We do."}}],
}


def frame_ancestors(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    [directive] = [d.strip() for d in policy.split(";") if d.strip().startswith("frame-ancestors")]
    return directive


@pytest.mark.parametrize("origin", BAD)
def test_anything_but_an_origin_is_refused_by_its_path(origin):
    assert not is_allowed_origin(origin)
    with pytest.raises(ValueError):
        normalise_origin(origin)
    good = "https://ok.example"
    with pytest.raises(DefinitionError) as refused:
        parse_definition(DEFINITION | {"allowed_origins": [good, origin]})
    [problem] = refused.value.problems
    assert problem.startswith("allowed_origins[1]: must be an origin like https://www.example.com")


def test_origins_are_normalised_as_browsers_send_them():
    spec = parse_definition(DEFINITION | {"allowed_origins": list(GOOD)})
    assert spec.allowed_origins == tuple(dict.fromkeys(GOOD.values()))


def test_the_editor_refuses_them(app_context, staff):
    marketer = staff("marketer")
    page = marketer.get("/admin/forms/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', page
    )
    assert token
    body = {k: v for k, v in DEFINITION.items() if k in {"consents"}}
    answer = marketer.post(
        "/admin/forms/new",
        data={
            "csrf_token": token.group(1),
            "slug": "partner-form",
            "name": "Partner form",
            "conversion": "newsletter_signup",
            "language": "en",
            "status": "active",
            "allowed_origins": "https://ok.example\nhttps://x.example;frame-ancestors *\n",
            "body": yaml.safe_dump(body),
        },
    )
    assert answer.status_code == 422
    assert "allowed_origins[1]: must be an origin like" in answer.get_data(as_text=True)
    assert get_form("partner-form") is None


def test_the_api_refuses_them_in_the_error_shape(client, api_token, contract_error):
    answer = client.put(
        "/api/v1/forms/partner-form/definition",
        json=DEFINITION | {"allowed_origins": ["https://partner.example *"]},
        headers=api_token(),
    )
    error = contract_error(answer, 422)
    assert list(error["fields"]) == ["allowed_origins[0]"]


def test_the_cli_refuses_them(runner, tmp_path: Path):
    path = tmp_path / "form.yaml"
    path.write_text(yaml.safe_dump(DEFINITION | {"allowed_origins": ["https://*"]}), "utf-8")
    result = runner.invoke(args=["forms", "import", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}: allowed_origins[0]: must be an origin like")
    partners = runner.invoke(
        args=["partners", "add", "acme", "--name", "Acme", "--origin", "https://acme.example *"]
    )
    assert partners.exit_code != 0 and "is not an origin" in partners.stderr


def test_a_form_saved_under_the_old_rules_keeps_working_without_the_bad_origins(
    app_context, client, make_form
):
    form = make_form(slug="partner-form", allowed_origins=["https://ok.example"])
    document = dict(form.document)
    document["allowed_origins"] = [
        "https://ok.example",
        "https://*",
        "https://x.example;frame-ancestors *",
    ]
    db.session.execute(
        sa.update(FormDefinition)
        .where(FormDefinition.id == form.id)
        .values(document=document, digest="0" * 64)
    )
    db.session.commit()
    db.session.expire_all()
    page = client.get("/f/partner-form?embed=1")
    assert page.status_code == 200
    assert frame_ancestors(page) == "frame-ancestors 'self' https://ok.example"
    assert "*" not in page.headers["Content-Security-Policy"]
