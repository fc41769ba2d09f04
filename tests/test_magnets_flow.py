"""The whole path over real HTTP and real S3 (moto server): a marketer uploads in the back
office, a form gates it, a visitor submits and downloads; an S3 outage costs nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import yaml
from flask import Flask
from helpers import STAFF_PASSWORD, csrf_token_in, log_in

from capture.base.db import db
from magnets.demo import guide_pdf
from magnets.grants import Download, DownloadGrant

NAME = "Lead scoring \u2013 guiden før 2025.pdf"


@pytest.fixture
def app_config(app_config: dict[str, Any], s3_server: Any) -> dict[str, Any]:
    return {**app_config, **s3_server.settings()}


def import_form(runner: Any, tmp_path: Path, **extra: Any) -> None:
    document = {
        "slug": "ebook-guide",
        "name": "E-book",
        "conversion": "ebook_download",
        "language": "da",
        "magnet": "lead-scoring",
        "fields": [{"name": "email", "type": "email", "required": True}],
        "consents": [{"purpose": "processing", "required": True, "text": {"da": "Ja tak."}}],
        **extra,
    }
    path = tmp_path / "form.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["forms", "import", str(path)])
    assert result.exit_code == 0, result.output


def upload(runner: Any, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / NAME
    path.write_bytes(data)
    result = runner.invoke(
        args=["magnets", "upload", str(path), "--title", "Lead scoring", "--kind", "ebook",
              "--slug", "lead-scoring", "--publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "lead-scoring\n"


def submit(base: str, email: str) -> dict[str, Any]:
    token = requests.get(f"{base}/api/v1/forms/ebook-guide", timeout=10).json()["token"]
    response = requests.post(
        f"{base}/api/v1/forms/ebook-guide/submissions",
        json={"fields": {"email": email}, "consents": {"processing": True}, "token": token},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def back_office_upload(base: str, runner: Any, data: bytes) -> None:
    """A marketer made with the CLI logs in and uploads and publishes over real HTTP."""
    made = runner.invoke(
        args=["users", "create", "marketer@firma.dk", "--role", "marketer"],
        input=STAFF_PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    browser = requests.Session()
    assert log_in(browser, "marketer@firma.dk", base_url=base).status_code == 303
    form = browser.get(f"{base}/admin/magnets/new", timeout=10).text
    fields = {"title": "Lead scoring", "slug": "lead-scoring", "kind": "ebook", "language": "da"}
    uploaded = browser.post(
        f"{base}/admin/magnets/new",
        data={**fields, "link_lifetime_days": "7", "csrf_token": csrf_token_in(form)},
        files={"file": (NAME, data, "application/octet-stream")},
        allow_redirects=False,
        timeout=30,
    )
    assert uploaded.status_code == 303, uploaded.text
    edit = f"{base}/admin/magnets/lead-scoring"
    page = browser.get(edit, timeout=10).text
    assert NAME in page and "draft" in page
    published = browser.post(
        f"{edit}/publish",
        data={"csrf_token": csrf_token_in(page)},
        allow_redirects=False,
        timeout=10,
    )
    assert published.status_code == 303


def test_back_office_upload_gate_submit_and_download_over_http(
    app_context: None, app: Flask, runner: Any, live_server: Any, tmp_path: Path
) -> None:
    data = guide_pdf()
    back_office_upload(live_server.url, runner, data)
    import_form(runner, tmp_path)
    answer = submit(live_server.url, "ane@firma.dk")
    assert answer["download_url"].startswith(live_server.url + "/d/")

    download = requests.get(answer["download_url"], timeout=10)
    assert download.status_code == 200
    first = download.history[0]
    assert first.status_code == 302
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["Referrer-Policy"] == "no-referrer"
    assert download.url.startswith(app.config["S3_ENDPOINT_URL"] + "/")
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(data).hexdigest()
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''Lead%20scoring%20%E2%80%93%20guiden%20f%C3%B8r%202025.pdf" in (
        disposition
    )
    assert requests.utils.unquote(disposition.split("UTF-8''")[1]) == NAME
    assert download.headers["Content-Type"] == "application/pdf"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 1


def test_s3_outage_loses_no_submission_and_no_link(
    app_context: None, app: Flask, runner: Any, live_server: Any, tmp_path: Path, s3_server: Any
) -> None:
    upload(runner, tmp_path, guide_pdf())
    import_form(runner, tmp_path)
    with s3_server.outage():
        answer = submit(live_server.url, "ane@firma.dk")
        assert answer["download_url"]
        held = requests.get(answer["download_url"], timeout=30, allow_redirects=False)
        assert held.status_code == 503
        assert int(held.headers["Retry-After"]) > 0
        assert held.headers["Cache-Control"] == "no-store"
        assert "prøv igen" in held.text.lower()  # a Danish magnet: Danish page
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DownloadGrant)) == 1
    again = requests.get(answer["download_url"], timeout=10)
    assert again.status_code == 200
    assert again.content == guide_pdf()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 1
