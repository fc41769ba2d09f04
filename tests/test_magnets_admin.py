"""The magnets back office: roles, uploads (hostile ones refused, nothing stored), replacing,
publishing, archiving, revoking; on S3 so "nothing stored" means an empty bucket."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import STAFF_PASSWORD, csrf_token_in, log_in
from magnet_samples import HOSTILE_COVERS, HOSTILE_MAGNETS, PDF, PNG, ZIP
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from capture.accounts import Role, create_user
from capture.base.db import db
from magnets.grants import DownloadGrant
from magnets.magnet import Magnet, MagnetFile, MagnetStatus, get_magnet

NAME = "Guiden til lead scoring \u2013 før 2025.pdf"


@pytest.fixture
def app_config(app_config: dict[str, Any], s3_server: Any) -> dict[str, Any]:
    return {**app_config, **s3_server.settings()}


@pytest.fixture
def bucket_keys(app: Flask, s3_server: Any) -> Any:
    bucket = app.config["STORAGE_URL"].split("/")[2]
    return lambda: s3_server.keys(bucket)


def signed_in(app: Flask, role: Role) -> Any:
    create_user(f"{role.value}@firma.dk", role, STAFF_PASSWORD)
    db.session.commit()
    client = app.test_client()
    assert log_in(client, f"{role.value}@firma.dk", STAFF_PASSWORD).status_code == 303
    return client


@pytest.fixture
def marketer(app: Flask) -> Any:
    return signed_in(app, Role.MARKETER)


def token(client: Any, path: str = "/admin/magnets/new") -> str:
    return csrf_token_in(client.get(path).get_data(as_text=True))


def upload(client: Any, data: bytes, name: str = NAME, **fields: Any) -> Any:
    form = {
        "csrf_token": token(client),
        "title": "Guiden til lead scoring",
        "kind": "ebook",
        "language": "da",
        "link_lifetime_days": "7",
        "file": (io.BytesIO(data), name),
        **fields,
    }
    return client.post("/admin/magnets/new", data=form, content_type="multipart/form-data")


def counts() -> tuple[int, int]:
    magnets = db.session.scalar(sa.select(sa.func.count()).select_from(Magnet))
    files = db.session.scalar(sa.select(sa.func.count()).select_from(MagnetFile))
    return magnets, files


@pytest.mark.parametrize(
    ("role", "status", "post_status"),
    [(None, 302, 302), (Role.SALES, 403, 403), (Role.MARKETER, 200, 400), (Role.ADMIN, 200, 400)],
)
def test_only_marketers_and_admins_get_in(
    app_context: None, app: Flask, role: Role | None, status: int, post_status: int
) -> None:
    client = signed_in(app, role) if role else app.test_client()
    for path in ("/admin/magnets/", "/admin/magnets/new"):
        response = client.get(path)
        assert response.status_code == status
        if status == 302:
            assert response.headers["Location"].startswith("/admin/login?next=")
    posted = client.post("/admin/magnets/new", data={"title": "x"})  # no CSRF token
    assert posted.status_code == post_status
    assert counts() == (0, 0)


def test_upload_publish_and_list(
    app_context: None, app: Flask, marketer: Any, bucket_keys: Any
) -> None:
    response = upload(marketer, PDF, publish="y", description="Read **this**.")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/magnets/guiden-til-lead-scoring"
    magnet = get_magnet("guiden-til-lead-scoring")
    assert magnet.status == MagnetStatus.PUBLISHED and magnet.language == "da"
    assert magnet.current_file.original_name == NAME
    assert magnet.current_file.uploaded_by == "user:marketer@firma.dk"
    assert bucket_keys() == [f"magnets/{magnet.current_file.storage_key}"]
    page = marketer.get("/admin/magnets/").get_data(as_text=True)
    assert "Guiden til lead scoring" in page and "published" in page
    detail = marketer.get("/admin/magnets/guiden-til-lead-scoring").get_data(as_text=True)
    assert NAME in detail and magnet.current_file.sha256[:12] in detail


# A hostile file is refused for its content (415); these as empty or for their name (400), or by the
# form parser, which drops a file whose name has a newline (the file is then missing: 422).
REFUSED_WITH = {
    "empty": 400,
    "traversal-name": 400,
    "folder-name": 400,
    "control-character-name": 400,
    "newline-name": 422,
    "bidi-override-name": 400,
    "hidden-name": 400,
}


def test_hostile_uploads_are_refused_and_nothing_is_stored(
    app_context: None, app: Flask, marketer: Any, bucket_keys: Any
) -> None:
    for case, (name, data) in HOSTILE_MAGNETS.items():
        response = upload(marketer, data, name=name, slug="hostile")
        assert response.status_code == REFUSED_WITH.get(case, 415), case
        assert 'class="status-error"' in response.get_data(as_text=True), case
        assert counts() == (0, 0), case
        assert bucket_keys() == [], case


def test_a_refused_cover_takes_the_file_back_out(
    app_context: None, app: Flask, marketer: Any, bucket_keys: Any
) -> None:
    name, data = HOSTILE_COVERS["png-then-zip"]
    response = upload(marketer, PDF, cover=(io.BytesIO(data), name))
    assert response.status_code == 415
    assert counts() == (0, 0) and bucket_keys() == []


def test_uploads_need_the_csrf_token(
    app_context: None, app: Flask, marketer: Any, bucket_keys: Any
) -> None:
    response = upload(marketer, PDF, csrf_token="forged")
    assert response.status_code == 400
    assert counts() == (0, 0) and bucket_keys() == []


def test_the_size_limit_is_raised_for_upload_views_only(
    app_context: None, app: Flask, marketer: Any, bucket_keys: Any
) -> None:
    app.config.update(MAGNET_MAX_BYTES=200_000, COVER_MAX_BYTES=10_000)
    padded = PDF.replace(b"%%EOF", b"%" + b"x" * 300_000 + b"\n%%EOF")
    over_magnet = upload(marketer, padded)
    assert over_magnet.status_code == 413
    assert "larger than" in over_magnet.get_data(as_text=True)
    # Encoded here: the test client would spool a body this big to a file it never closes.
    boundary, body = encode_multipart(
        {"csrf_token": token(marketer), "title": "Big", "kind": "ebook", "language": "da",
         "link_lifetime_days": "7", "file": FileStorage(io.BytesIO(b"x" * 2_000_000), "a.pdf")}
    )  # fmt: skip
    over_request = marketer.post(
        "/admin/magnets/new",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert over_request.status_code == 413
    assert counts() == (0, 0) and bucket_keys() == []
    assert upload(marketer, PDF).status_code == 303
    # Everywhere else the small default stays: a large edit post is refused before parsing.
    edit = "/admin/magnets/guiden-til-lead-scoring"
    big = marketer.post(
        edit, data={"csrf_token": token(marketer, edit), "description": "x" * 100_000}
    )
    assert big.status_code == 413


def test_replacing_the_file_keeps_history_and_links_deliver_the_new_one(
    app_context: None,
    app: Flask,
    marketer: Any,
    make_form: Any,
    submit: Any,
    client: Any,
    bucket_keys: Any,
) -> None:
    upload(marketer, PDF, publish="y", slug="guide")
    make_form(slug="get-it", magnet="guide")
    link = submit("get-it", {"email": "ane@firma.dk"}).get_json()["download_url"]
    path = "/admin/magnets/guide"
    response = marketer.post(
        f"{path}/file",
        data={"csrf_token": token(marketer, path), "file": (io.BytesIO(ZIP), "Tjekliste.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    magnet = get_magnet("guide")
    assert [f.original_name for f in magnet.files] == ["Tjekliste.zip", NAME]
    assert magnet.current_file.original_name == "Tjekliste.zip"
    assert len(bucket_keys()) == 2
    download = client.get(link.removeprefix("http://localhost"))
    assert download.status_code == 302
    assert "Tjekliste.zip" in download.headers["Content-Disposition"]


def test_covers_are_checked_and_replaced(
    app_context: None, app: Flask, marketer: Any, bucket_keys: Any
) -> None:
    upload(marketer, PDF, slug="guide", cover=(io.BytesIO(PNG), "cover.png"))
    first = get_magnet("guide").cover_key
    path = "/admin/magnets/guide"
    for case, (name, data) in HOSTILE_COVERS.items():
        refused = marketer.post(
            f"{path}/cover",
            data={"csrf_token": token(marketer, path), "cover": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert refused.status_code == 415, case  # every hostile cover is refused for its content
    assert len(bucket_keys()) == 2
    replaced = marketer.post(
        f"{path}/cover",
        data={"csrf_token": token(marketer, path), "cover": (io.BytesIO(PNG + b""), "new.png")},
        content_type="multipart/form-data",
    )
    assert replaced.status_code == 303
    db.session.expire_all()
    assert get_magnet("guide").cover_key != first
    assert len(bucket_keys()) == 2  # the old cover was deleted


def test_publish_archive_revoke_and_preview(
    app_context: None, app: Flask, marketer: Any, make_form: Any, submit: Any, client: Any
) -> None:
    upload(marketer, PDF, slug="guide")
    path = "/admin/magnets/guide"
    preview = marketer.get("/p/guide")
    # The magnet is Danish, so its landing page (and the preview banner) is in Danish.
    assert preview.status_code == 200 and "Forhåndsvisning" in preview.get_data(as_text=True)
    assert preview.headers["X-Robots-Tag"] == "noindex"
    assert client.get("/p/guide").status_code == 404

    def act(action: str) -> Any:
        return marketer.post(f"{path}/{action}", data={"csrf_token": token(marketer, path)})

    assert act("publish").status_code == 303
    assert client.get("/p/guide").status_code == 200
    make_form(slug="get-it", magnet="guide")
    link = submit("get-it", {"email": "ane@firma.dk"}).get_json()["download_url"]
    assert act("revoke").status_code == 303
    grant = db.session.scalar(sa.select(DownloadGrant))
    db.session.refresh(grant)
    assert grant.revoked_by == "user:marketer@firma.dk"
    assert client.get(link.removeprefix("http://localhost")).status_code == 410
    assert act("archive").status_code == 303
    assert client.get("/p/guide").status_code == 410
    assert marketer.post(f"{path}/archive", data={}).status_code == 400  # no CSRF token


def test_editing_details(app_context: None, app: Flask, marketer: Any) -> None:
    upload(marketer, PDF, slug="guide")
    path = "/admin/magnets/guide"
    form = {
        "csrf_token": token(marketer, path),
        "title": "New title",
        "kind": "checklist",
        "language": "sv",
        "headline": "Headline",
        "description": "## Hej",
        "link_lifetime_days": "14",
        "noindex": "y",
    }
    assert marketer.post(path, data=form).status_code == 303
    magnet = get_magnet("guide")
    db.session.refresh(magnet)
    assert (magnet.title, magnet.kind, magnet.language, magnet.link_lifetime_days) == (
        "New title",
        "checklist",
        "sv",
        14,
    )
    assert magnet.noindex is True
    bad = marketer.post(path, data={**form, "link_lifetime_days": "0", "kind": "podcast"})
    assert bad.status_code == 422
    assert re.search(r'class="status-error"', bad.get_data(as_text=True))
    assert marketer.get("/admin/magnets/nothing").status_code == 404


def test_help_texts_are_text_and_errors_are_tied_to_their_fields(
    app_context: None, app: Flask, marketer: Any
) -> None:
    """One field macro for the staff forms: a translated help text is escaped like any text
    (it once put an <address> element on the page), and an error is tied to its control."""
    page = marketer.get("/admin/magnets/new").get_data(as_text=True)
    assert "/p/&lt;address&gt;." in page and "<address>" not in page
    refused = upload(marketer, b"not a pdf at all", name="guide.pdf", slug="UPPER CASE")
    html = refused.get_data(as_text=True)
    assert re.search(r'<input[^>]*aria-describedby="slug-error"[^>]*aria-invalid="true"', html)
    assert 'id="slug-error"' in html
