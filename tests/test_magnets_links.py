"""Download links as the contract promises: issued on submission, recorded when used, a
redirect to a presigned URL (S3) or the file itself (disk), and the right refusal otherwise."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from magnet_samples import ZIP

from capture.base.db import db, utcnow
from capture.leads.lead import Lead
from capture.web.tokens import Purpose, sign, verify
from magnets.demo import guide_pdf
from magnets.filetypes import Purpose as UploadPurpose
from magnets.grants import Download, DownloadGrant
from magnets.magnet import MagnetStatus, get_magnet
from magnets.uploads import receive, store_file

PDF = guide_pdf()
MAGNET = UploadPurpose.MAGNET
NAME = "Guiden \u2013 før året.pdf"


@pytest.fixture(params=["file", "s3"])
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> dict[str, Any]:
    if request.param == "s3":
        return {**app_config, **request.getfixturevalue("s3_server").settings()}
    return app_config


def on_s3(app: Flask) -> bool:
    return app.config["STORAGE_URL"].startswith("s3://")


@pytest.fixture
def gated(make_magnet: Any, make_form: Any) -> Any:
    make_magnet(filename=NAME, link_lifetime_days=3)
    return make_form(slug="get-guide", conversion="ebook_download", magnet="guide")


def path_of(url: str) -> str:
    return urlsplit(url).path


def fetch(client: Any, url: str, **kwargs: Any) -> Any:
    response = client.get(path_of(url), **kwargs)
    response.get_data()  # read it all, then close the file, as a server does after sending
    response.close()
    return response


def test_a_gated_submission_answers_with_an_absolute_download_url(
    app_context: None, app: Flask, gated: Any, submit: Any
) -> None:
    response = submit("get-guide", {"email": "ane@firma.dk"})
    assert response.status_code == 201
    url = response.get_json()["download_url"]
    assert url.startswith("http://localhost/d/")
    grant = db.session.scalar(sa.select(DownloadGrant))
    assert grant is not None and grant.lead.email == "ane@firma.dk"
    assert grant.source == "submission" and grant.submission_id is not None
    assert timedelta(days=3) - (grant.expires_at - utcnow()) < timedelta(minutes=1)
    assert grant.public_id not in url  # signed, not readable
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 0


def test_the_link_delivers_the_file_and_records_the_download(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any
) -> None:
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    lead = db.session.scalar(sa.select(Lead))
    before = lead.last_activity_at
    response = client.get(path_of(url), headers={"User-Agent": "Browser/1.0"})
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Guiden%20%E2%80%93%20f%C3%B8r%20%C3%A5ret.pdf" in disposition
    if on_s3(app):
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith(app.config["S3_ENDPOINT_URL"] + "/")
        assert "X-Amz-Expires=60" in location
        body = requests.get(location, timeout=10)
        assert body.content == PDF
        assert body.headers["Content-Disposition"] == disposition
        assert body.headers["Content-Type"] == "application/pdf"
    else:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/pdf"
        assert int(response.headers["Content-Length"]) == len(PDF)
        assert response.get_data() == PDF
    response.close()
    download = db.session.scalar(sa.select(Download))
    assert download is not None
    assert download.user_agent == "Browser/1.0" and download.ip == "127.0.0.1"
    assert download.file_id == get_magnet("guide").current_file_id
    db.session.refresh(lead)
    assert lead.last_activity_at > before


def test_downloads_leave_no_autocommit_connection_behind(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any
) -> None:
    """On PostgreSQL a download runs in autocommit; the next user of its pooled connection
    (a submission, say) must get transactions again, whichever way the download ended."""
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    fetch(client, url)
    fetch(client, "/d/not-a-token")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 1
    db.session.remove()
    for _ in range(db.engine.pool.checkedin() + 1):
        with db.engine.connect() as connection:
            dbapi = connection.connection.dbapi_connection
            assert getattr(dbapi, "autocommit", False) is False
            assert connection.get_isolation_level() != "AUTOCOMMIT"


def test_head_requests_and_previews_do_not_count(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any
):
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    response = client.head(path_of(url))
    response.close()
    assert response.status_code == (302 if on_s3(app) else 200)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 0


def test_a_replaced_file_is_what_earlier_links_deliver(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any
) -> None:
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    magnet = get_magnet("guide")
    with app.test_request_context(), receive(io.BytesIO(ZIP), "v2.zip", MAGNET) as new:
        store_file(magnet, new, uploaded_by="test")
    db.session.commit()
    assert [f.original_name for f in magnet.files] == ["v2.zip", NAME]
    response = fetch(client, url)
    assert "filename=v2.zip" in response.headers["Content-Disposition"]
    if not on_s3(app):
        assert response.get_data() == ZIP


def grant_of(url: str) -> DownloadGrant:
    payload, _ = verify(Purpose.DOWNLOAD, path_of(url).rsplit("/", 1)[1])
    grant = db.session.scalar(sa.select(DownloadGrant).where(DownloadGrant.public_id == payload))
    assert grant is not None
    return grant


@pytest.mark.parametrize(
    "forge",
    [
        lambda token, grant: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        lambda token, grant: sign(Purpose.DOWNLOAD, "dlg_unknown"),
        lambda token, grant: sign(Purpose.DOWNLOAD, {"grant": grant.public_id}),
        lambda token, grant: sign(Purpose.CONFIRM, grant.public_id),
        lambda token, grant: sign(Purpose.FRESH_LINK, grant.public_id),
        lambda token, grant: sign(Purpose.FORM, grant.public_id),
        lambda token, grant: "x" * 3000,
    ],
    ids=["tampered", "unknown", "shape", "confirm", "fresh-link", "form", "huge"],
)
def test_forged_and_cross_purpose_tokens_are_not_found(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any, forge: Any
) -> None:
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    token = path_of(url).rsplit("/", 1)[1]
    response = fetch(client, "/d/" + forge(token, grant_of(url)))
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 0


def test_an_expired_link_offers_a_fresh_one_by_post(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any
) -> None:
    url = submit("get-guide", {"email": "ane@firma.dk"}, headers={}).get_json()["download_url"]
    grant = grant_of(url)
    grant.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = fetch(client, url)
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert 'method="post" action="/d/renew"' in page
    assert 'type="email"' not in page  # the address on file, never one typed here
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 0
    as_json = fetch(client, url, headers={"Accept": "application/json"})
    assert as_json.status_code == 410
    assert as_json.get_json()["error"]["code"] == "link_expired"


def test_a_revoked_link_is_gone_without_an_offer(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any
):
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    grant_of(url).revoked_at = utcnow()
    db.session.commit()
    response = fetch(client, url)
    assert response.status_code == 410
    assert "/d/renew" not in response.get_data(as_text=True)


def test_an_archived_magnet_is_gone_and_a_draft_not_found(
    app_context: None, app: Flask, client: Any, gated: Any, submit: Any
) -> None:
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    magnet = get_magnet("guide")
    magnet.archive()
    db.session.commit()
    assert fetch(client, url).status_code == 410
    magnet.status = MagnetStatus.DRAFT
    db.session.commit()
    assert fetch(client, url).status_code == 404


def test_no_link_for_unpublished_magnets_or_double_opt_in(
    app_context: None, app: Flask, make_magnet: Any, make_form: Any, submit: Any
) -> None:
    make_magnet(slug="draft-guide", publish=False)
    make_form(slug="draft-form", magnet="draft-guide")
    make_magnet(slug="confirm-first")
    make_form(slug="doi-form", magnet="confirm-first", double_opt_in=True)
    for slug in ("draft-form", "doi-form"):
        response = submit(slug, {"email": "ane@firma.dk"})
        assert response.status_code == 201
        assert response.get_json()["download_url"] is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DownloadGrant)) == 0


@pytest.mark.app_config(PUBLIC_BASE_URL="http://localhost")  # so evil.example is answered
def test_the_redirect_target_is_built_by_the_server_only(
    app: Flask, client: Any, gated: Any, submit: Any
) -> None:
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    response = client.get(
        path_of(url) + "?next=https://evil.example/&url=https://evil.example/",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    response.close()
    if on_s3(app):
        assert response.status_code == 302
        assert response.headers["Location"].startswith(app.config["S3_ENDPOINT_URL"] + "/")
    else:
        assert response.status_code == 200 and "Location" not in response.headers
