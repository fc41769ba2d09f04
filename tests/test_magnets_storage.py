"""The storage interface behaves the same on the local disk and on S3 (moto in server mode)."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import pytest
import requests

from magnets.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    StorageUnavailable,
    content_disposition,
    from_url,
)


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Storage:
    if request.param == "file":
        return LocalStorage(tmp_path / "store")
    s3 = request.getfixturevalue("s3_server")
    return S3Storage(s3.make_bucket(), "some/prefix", s3.url)


def test_put_open_delete_round_trip(store: Storage) -> None:
    data = os.urandom(300_000)
    store.put(io.BytesIO(data), "files/abc_DEF-1.pdf", "application/pdf")
    with store.open("files/abc_DEF-1.pdf") as stream:
        assert stream.read() == data
    store.delete("files/abc_DEF-1.pdf")
    with pytest.raises(StorageUnavailable):
        store.open("files/abc_DEF-1.pdf").read()
    store.delete("files/abc_DEF-1.pdf")  # deleting twice is fine


def test_keys_we_did_not_make_are_refused(store: Storage) -> None:
    for key in ("../escape.pdf", "files/../../x", "/abs", "a b", "files/", "files/\x00.pdf"):
        with pytest.raises(ValueError, match="not a storage key"):
            store.put(io.BytesIO(b"x"), key, "application/pdf")
        with pytest.raises(ValueError, match="not a storage key"):
            store.open(key)


def test_local_disk_has_no_presigned_urls(tmp_path: Any) -> None:
    store = LocalStorage(tmp_path)
    store.put(io.BytesIO(b"%PDF-"), "files/a.pdf", "application/pdf")
    assert store.presigned_url("files/a.pdf", "a.pdf", "application/pdf") is None


NAMES = ["Guide.pdf", "Før året \u2013 guide.pdf", "指南.pdf", 'a "b".pdf']


@pytest.mark.parametrize("name", NAMES)
def test_presigned_url_downloads_as_attachment_with_the_real_name_and_type(
    s3_server: Any, name: str
) -> None:
    store = S3Storage(s3_server.make_bucket(), "", s3_server.url)
    data = os.urandom(10_000)
    store.put(io.BytesIO(data), "files/k.pdf", "application/pdf")
    url = store.presigned_url("files/k.pdf", name, "application/pdf")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url  # SigV4, not the legacy scheme
    assert "X-Amz-Expires=60" in url
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == content_disposition(name)
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_s3_streams_large_files_in_parts(s3_server: Any) -> None:
    """Over the multipart threshold: stored intact without the file being read whole."""
    bucket = s3_server.make_bucket()
    store = S3Storage(bucket, "p", s3_server.url)
    data = os.urandom(1024 * 1024) * 20
    store.put(io.BytesIO(data), "files/big.zip", "application/zip")
    head = s3_server.client.head_object(Bucket=bucket, Key="p/files/big.zip")
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/zip"
    assert "-" in head["ETag"]  # a multipart upload's ETag
    with store.open("files/big.zip") as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(data).digest()


def test_s3_unreachable_is_reported_as_unavailable(s3_server: Any) -> None:
    store = S3Storage(s3_server.make_bucket(), "", s3_server.url)
    store.put(io.BytesIO(b"data"), "files/k.pdf", "application/pdf")
    with s3_server.outage():
        with pytest.raises(StorageUnavailable):
            store.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
        with pytest.raises(StorageUnavailable):
            store.put(io.BytesIO(b"data"), "files/other.pdf", "application/pdf")
        with pytest.raises(StorageUnavailable):
            store.open("files/k.pdf")
    assert store.presigned_url("files/k.pdf", "k.pdf", "application/pdf")


def test_an_object_that_answered_is_not_asked_again_for_a_while(s3_server: Any) -> None:
    """One HEAD per object per interval, not per download: within it no round trip is made
    (an outage goes unseen), and a failed check is not remembered as a good one."""
    remembering = S3Storage(s3_server.make_bucket(), "", s3_server.url, checked_for=3600)
    forgetful = S3Storage(remembering.bucket, "", s3_server.url, checked_for=0)
    remembering.put(io.BytesIO(b"data"), "files/k.pdf", "application/pdf")
    assert remembering.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
    assert forgetful.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
    with s3_server.outage():
        assert remembering.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
        with pytest.raises(StorageUnavailable):
            forgetful.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
        with pytest.raises(StorageUnavailable):  # never answered: asked, and refused
            remembering.presigned_url("files/other.pdf", "o.pdf", "application/pdf")
    remembering.delete("files/k.pdf")  # a deleted object is forgotten at once
    with pytest.raises(StorageUnavailable):
        remembering.presigned_url("files/k.pdf", "k.pdf", "application/pdf")


def test_missing_object_is_not_handed_out(s3_server: Any) -> None:
    store = S3Storage(s3_server.make_bucket(), "", s3_server.url)
    with pytest.raises(StorageUnavailable):
        store.presigned_url("files/never-stored.pdf", "x.pdf", "application/pdf")


def test_storage_url_chooses_the_backend(tmp_path: Any, s3_server: Any) -> None:
    local = from_url((tmp_path / "m").as_uri())
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "m"
    remote = from_url("s3://bucket-name/some/prefix/", s3_server.url)
    assert isinstance(remote, S3Storage)
    assert (remote.bucket, remote.prefix) == ("bucket-name", "some/prefix")
    assert remote.client.meta.config.signature_version == "s3v4"
    for bad in ("ftp://x/y", "s3:///prefix", "file://otherhost/path", "/just/a/path"):
        with pytest.raises(ValueError, match="STORAGE_URL"):
            from_url(bad)


def test_content_disposition_follows_rfc_6266() -> None:
    assert content_disposition("guide.pdf") == "attachment; filename=guide.pdf"
    assert content_disposition("Før året.pdf") == (
        "attachment; filename=\"Foer aret.pdf\"; filename*=UTF-8''F%C3%B8r%20%C3%A5ret.pdf"
    )
    assert content_disposition("指南.pdf").startswith("attachment; filename=download.pdf;")
    assert "\r" not in content_disposition("a\r\nSet-Cookie: x.pdf")
    assert content_disposition("c.png", "inline") == "inline; filename=c.png"


def test_a_presigned_url_is_reused_for_a_few_seconds_only(
    s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Minting costs more CPU than the rest of a download: one URL per object, name and type
    for REUSE_SECONDS, so each still has most of its minute to live when handed out."""
    from magnets import storage as module

    store = S3Storage(s3_server.make_bucket(), "", s3_server.url, checked_for=3600)
    store.put(io.BytesIO(b"data"), "files/k.pdf", "application/pdf")
    minted: list[str] = []
    generate = store.client.generate_presigned_url

    def counting(*args: Any, **kwargs: Any) -> str:
        minted.append(kwargs["Params"]["Key"])
        return generate(*args, **kwargs)

    monkeypatch.setattr(store.client, "generate_presigned_url", counting)
    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    first = store.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
    assert store.presigned_url("files/k.pdf", "k.pdf", "application/pdf") == first
    store.presigned_url("files/k.pdf", "other name.pdf", "application/pdf")  # its own URL
    assert len(minted) == 2
    clock[0] += module.REUSE_SECONDS
    store.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
    assert len(minted) == 3
    assert module.PRESIGNED_SECONDS - module.REUSE_SECONDS >= 50
    store.delete("files/k.pdf")  # forgotten with the object: asked again, and refused
    with pytest.raises(StorageUnavailable):
        store.presigned_url("files/k.pdf", "k.pdf", "application/pdf")
