"""Uploads are identified by content; hostile files are refused with a 4xx and a reason."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from typing import Any

import pytest
from flask import Flask
from magnet_samples import GOOD_COVERS, GOOD_MAGNETS, HOSTILE_COVERS, HOSTILE_MAGNETS, PDF, PNG

from magnets.filetypes import EPUB, Purpose, Refused
from magnets.uploads import CHUNK, receive
from wsgi import create_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """Checking content needs config and translations, not a database: one app for the module."""
    root = tmp_path_factory.mktemp("uploads")
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-0123456789abcdefghijklmnop",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'unused.sqlite3'}",
            "STORAGE_URL": (root / "storage").as_uri(),
        }
    )


def received(app: Flask, name: str, data: bytes, purpose: Purpose) -> tuple[str, str, int, str]:
    with app.test_request_context(), receive(io.BytesIO(data), name, purpose) as upload:
        assert upload.file.read() == data
        return upload.name, upload.content_type, upload.size, upload.sha256


@pytest.mark.parametrize("name", GOOD_MAGNETS)
def test_magnet_types_are_recognised_by_content(app: Flask, name: str) -> None:
    data, content_type = GOOD_MAGNETS[name]
    assert received(app, name, data, Purpose.MAGNET) == (
        name,
        content_type,
        len(data),
        hashlib.sha256(data).hexdigest(),
    )


@pytest.mark.parametrize("name", GOOD_COVERS)
def test_cover_types_are_recognised_by_content(app: Flask, name: str) -> None:
    data, content_type = GOOD_COVERS[name]
    assert received(app, name, data, Purpose.COVER)[1] == content_type


def test_the_content_decides_and_the_name_gains_the_true_extension(app: Flask) -> None:
    assert received(app, "report.exe", PDF, Purpose.MAGNET)[:2] == (
        "report.exe.pdf",
        "application/pdf",
    )
    assert received(app, "Guide", PDF, Purpose.MAGNET)[0] == "Guide.pdf"
    assert received(app, "GUIDE.PDF", PDF, Purpose.MAGNET)[0] == "GUIDE.PDF"
    assert received(app, "Før året.pdf", PDF, Purpose.MAGNET)[0] == "Før året.pdf"


def refusal(app: Flask, name: str, data: bytes, purpose: Purpose) -> Refused:
    with pytest.raises(Refused) as refused:
        received(app, name, data, purpose)
    return refused.value


@pytest.mark.parametrize("case", HOSTILE_MAGNETS)
def test_hostile_magnet_files_are_refused(app: Flask, case: str) -> None:
    name, data = HOSTILE_MAGNETS[case]
    refused = refusal(app, name, data, Purpose.MAGNET)
    assert 400 <= refused.status < 500
    assert refused.message.endswith(".")


@pytest.mark.parametrize("case", HOSTILE_COVERS)
def test_hostile_covers_are_refused(app: Flask, case: str) -> None:
    name, data = HOSTILE_COVERS[case]
    assert 400 <= refusal(app, name, data, Purpose.COVER).status < 500


def test_a_magnet_file_is_not_a_cover_nor_the_other_way_round(app: Flask) -> None:
    assert refusal(app, "cover.png", PNG, Purpose.MAGNET).status == 415
    assert refusal(app, "guide.pdf", PDF, Purpose.COVER).status == 415


SPLIT_MARKUP = [
    b"<script>alert(1)</script>",
    b"<!doctype   html>",
    b'<svg width="1" height="1" version="1.1" xmlns="http://www.w3.org/2000/svg"/>',
    b"javascript:alert(1)",
]


@pytest.mark.parametrize("markup", SPLIT_MARKUP)
def test_markup_split_across_read_chunks_is_found(app: Flask, markup: bytes) -> None:
    """The file is read 1 MB at a time; markup cut in two by a chunk edge is still seen."""
    for cut in (1, len(markup) // 2, len(markup) - 1):
        filler = b"%" + b"p" * (CHUNK - 15 - 2 - cut) + b"\n"
        data = PDF[:15] + filler + markup + b"\n" + PDF[15:]
        assert data[CHUNK - cut : CHUNK + len(markup) - cut] == markup
        assert refusal(app, "guide.pdf", data, Purpose.MAGNET).status == 415, (markup, cut)


def test_random_compressed_looking_streams_are_not_taken_for_markup(app: Flask) -> None:
    """8 MB of random bytes (what deflated PDF streams look like) hold none of the markers."""
    noise = random.Random(2025).randbytes(8 * CHUNK)
    data = PDF[:15] + b"%" + noise + b"\n" + PDF[15:]
    assert received(app, "guide.pdf", data, Purpose.MAGNET)[1] == "application/pdf"


def test_epub_chapters_stored_uncompressed_are_accepted(app: Flask) -> None:
    """EPUB and Office files hold XHTML by design; markup inside an archive is not refused."""
    chapter = (
        b'<?xml version="1.0"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<head><script>var x = 1;</script></head><body><p>Kapitel 1</p></body></html>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("mimetype", b"application/epub+zip")
        archive.writestr("META-INF/container.xml", b"<container/>")
        archive.writestr("OEBPS/chapter1.xhtml", chapter)
    assert chapter in out.getvalue()
    assert received(app, "book.epub", out.getvalue(), Purpose.MAGNET)[1] == EPUB


def test_oversize_is_refused_while_reading(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MAGNET_MAX_BYTES", 2 * 1024 * 1024)

    class Endless(io.RawIOBase):
        """Would never end: the refusal must come from the limit, not the end of input."""

        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            self.served += len(buffer)
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    stream = Endless()
    with (
        app.test_request_context(),
        pytest.raises(Refused) as refused,
        receive(io.BufferedReader(stream), "big.pdf", Purpose.MAGNET),
    ):
        pass
    assert refused.value.status == 413
    assert "2 MB" in refused.value.message
    assert stream.served <= 4 * 1024 * 1024
