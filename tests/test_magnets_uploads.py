"""Uploads are identified by content; hostile files are refused with a 4xx and a reason."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from flask import Flask
from magnet_samples import GOOD_COVERS, GOOD_MAGNETS, HOSTILE_COVERS, HOSTILE_MAGNETS, PDF, PNG

from magnets.filetypes import Purpose, Refused
from magnets.uploads import receive
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
