"""Links never come from the request's Host header, and production starts only when it knows
its own address; console mail, which logs people's details, is refused in production."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from capture.base.config import InvalidConfiguration, UnsafeConfiguration
from capture.base.db import db
from capture.delivery.outbox import OutboxMessage
from capture.leads.lead import Lead
from capture.web import embed
from wsgi import create_app

EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
BASE = "https://leads.example.com"


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: Any) -> dict[str, Any]:
    return {**app_config, "MAIL_URL": smtp_server.url, "MAIL_TIMEOUT_SECONDS": 5}


@pytest.fixture
def gated(make_magnet: Any, make_form: Any) -> Any:
    make_magnet(title="Guiden")
    return make_form(slug="get-it", magnet="guide", email_magnet=True)


def mailed_text(runner: Any, smtp_server: Any) -> str:
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return "\n".join(
        part.get_content()
        for message in smtp_server.messages
        for part in message.walk()
        if part.get_content_maintype() == "text"
    )


def test_an_untrusted_host_gets_no_link_and_no_mail_in_development(
    app_context: None,
    app: Flask,
    gated: Any,
    submit: Any,
    runner: Any,
    smtp_server: Any,
    contract_error: Any,
) -> None:
    answer = submit("get-it", {"email": "ane@firma.dk"}, headers=EVIL)
    contract_error(answer, 400)
    assert "evil.example" not in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert mailed_text(runner, smtp_server) == ""
    # This machine's own names still work without any setting: development stays usable.
    for host in ("localhost", "127.0.0.1:5000"):
        answer = submit("get-it", {"email": "bo@firma.dk"}, headers={"Host": host})
        assert answer.status_code == 201
        assert answer.get_json()["download_url"].startswith(f"http://{host}/d/")


@pytest.mark.app_config(PUBLIC_BASE_URL=BASE + "/")
def test_with_a_public_base_url_every_link_uses_it_whatever_the_host(
    app: Flask, gated: Any, submit: Any, client: Any, runner: Any, smtp_server: Any, staff: Any
) -> None:
    answer = submit("get-it", {"email": "ane@firma.dk"}, headers=EVIL)
    assert answer.status_code == 201
    body = answer.get_data(as_text=True)
    assert "evil.example" not in body
    assert answer.get_json()["download_url"].startswith(BASE + "/d/")
    text = mailed_text(runner, smtp_server)
    assert re.search(re.escape(BASE) + r"/d/\S+", text)
    assert "evil.example" not in text
    form = client.get("/api/v1/forms/get-it", headers=EVIL).get_json()
    assert form["submit_url"].startswith(BASE + "/")
    assert "evil.example" not in str(form)
    with app.test_request_context(headers=EVIL):
        assert embed.embed_script_url().startswith(BASE + "/embed.js?v=")
    admin = staff("admin")
    # The same session under the other name, as a browser sent to evil.example by DNS would have.
    admin.set_cookie("session", admin.get_cookie("session").value, domain="evil.example")
    page = admin.get("/admin/forms/get-it", headers=EVIL).get_data(as_text=True)
    assert f"{BASE}/embed.js" in page and "evil.example" not in page
    # The "try again" link of a download held back by the store is a path on this site.
    for stored in Path(urlsplit(app.config["STORAGE_URL"]).path).rglob("*"):
        if stored.is_file():
            stored.unlink()
    path = urlsplit(answer.get_json()["download_url"]).path
    held_back = client.get(path, headers=EVIL)
    assert held_back.status_code == 503
    assert f'href="{path}"' in held_back.get_data(as_text=True)
    assert "evil.example" not in held_back.get_data(as_text=True)


@pytest.mark.app_config(TRUSTED_HOSTS=["leads.example.com", ".partner.example"])
def test_a_trusted_hosts_list_replaces_the_development_names(
    app: Flask, gated: Any, submit: Any, client: Any, contract_error: Any
) -> None:
    contract_error(client.get("/api/v1/forms/get-it"), 400)  # localhost is not on the list
    for host in ("leads.example.com", "www.partner.example"):
        token = client.get("/api/v1/forms/get-it", headers={"Host": host}).get_json()["token"]
        contract_error(submit("get-it", {"email": "ane@firma.dk"}, headers=EVIL, token=token), 400)
        answer = submit("get-it", {"email": "ane@firma.dk"}, headers={"Host": host}, token=token)
        assert answer.status_code == 201
        assert answer.get_json()["download_url"].startswith(f"http://{host}/d/")


def production(app_config: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {
        **app_config,
        "LEADGATE_ENV": "production",
        "ALLOW_SQLITE_IN_PRODUCTION": True,
        "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
        "PUBLIC_BASE_URL": BASE,
        "MAIL_URL": "smtp://127.0.0.1:25",
        **settings,
    }


def test_production_needs_its_address_or_a_trusted_hosts_list(app_config: dict[str, Any]):
    with pytest.raises(UnsafeConfiguration, match="PUBLIC_BASE_URL"):
        create_app(production(app_config, PUBLIC_BASE_URL=None))
    with pytest.raises(UnsafeConfiguration, match="PUBLIC_BASE_URL"):
        create_app(production(app_config, PUBLIC_BASE_URL=""))
    listed = create_app(production(app_config, PUBLIC_BASE_URL=None, TRUSTED_HOSTS=["a.example"]))
    assert listed.config["TRUSTED_HOSTS"] == ["a.example"]
    assert create_app(production(app_config)).config["PUBLIC_BASE_URL"] == BASE


def test_the_trusted_hosts_list_is_read_from_the_environment(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LEADGATE_TRUSTED_HOSTS", " leads.example.com, .example.org ,")
    config = {k: v for k, v in production(app_config, PUBLIC_BASE_URL=None).items()}
    config.pop("TRUSTED_HOSTS", None)
    app = create_app(config)
    assert app.config["TRUSTED_HOSTS"] == ["leads.example.com", ".example.org"]


@pytest.mark.parametrize("base", ["leads.example.com", "ftp://leads.example.com", "https://"])
def test_an_unusable_public_base_url_stops_the_start(app_config: dict[str, Any], base: str):
    with pytest.raises(InvalidConfiguration, match="PUBLIC_BASE_URL"):
        create_app({**app_config, "PUBLIC_BASE_URL": base})


@pytest.mark.parametrize("url", ["console://", "CONSOLE://"])
def test_production_refuses_console_mail_unless_allowed(app_config: dict[str, Any], url: str):
    with pytest.raises(UnsafeConfiguration, match="LEADGATE_ALLOW_CONSOLE_MAIL"):
        create_app(production(app_config, MAIL_URL=url))
    allowed = create_app(production(app_config, MAIL_URL=url, ALLOW_CONSOLE_MAIL=True))
    assert allowed.config["ALLOW_CONSOLE_MAIL"] is True


def test_the_console_mail_flag_is_read_from_the_environment(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    config = production(app_config, MAIL_URL="console://")
    for value in ("0", "", "no"):
        monkeypatch.setenv("LEADGATE_ALLOW_CONSOLE_MAIL", value)
        with pytest.raises(UnsafeConfiguration, match="console"):
            create_app(config)
    monkeypatch.setenv("LEADGATE_ALLOW_CONSOLE_MAIL", "1")
    assert create_app(config).config["ALLOW_CONSOLE_MAIL"] is True
