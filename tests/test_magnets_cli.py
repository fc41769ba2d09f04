"""`leadgate magnets upload`: prints the slug, stores the file, or explains on stderr and stores
nothing; on the local disk and on S3 alike."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from magnet_samples import HOSTILE_COVERS, HOSTILE_MAGNETS, PDF, PNG

from capture.base.db import db
from magnets.magnet import Magnet, MagnetFile, MagnetStatus, get_magnet


@pytest.fixture(params=["file", "s3"])
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> dict[str, Any]:
    if request.param == "s3":
        return {**app_config, **request.getfixturevalue("s3_server").settings()}
    return app_config


def stored_objects(app: Flask, s3: Any) -> list[str]:
    url = app.config["STORAGE_URL"]
    if url.startswith("s3://"):
        return s3.keys(url.split("/")[2])
    root = Path(url.removeprefix("file://"))
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def s3(app_config: dict[str, Any], request: pytest.FixtureRequest) -> Any:
    if app_config["STORAGE_URL"].startswith("s3://"):
        return request.getfixturevalue("s3_server")
    return None


def test_cli_upload_stores_the_file_and_prints_the_slug(
    app_context: None, app: Flask, runner: Any, tmp_path: Path, s3: Any
) -> None:
    path = tmp_path / "Lead scoring \u2013 guiden.pdf"
    path.write_bytes(PDF)
    result = runner.invoke(
        args=["magnets", "upload", str(path), "--title", "Guiden til lead scoring", "--kind",
              "ebook", "--language", "da", "--publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "guiden-til-lead-scoring\n"
    magnet = get_magnet("guiden-til-lead-scoring")
    assert magnet is not None and magnet.status == MagnetStatus.PUBLISHED
    file = magnet.current_file
    assert file is not None
    assert (file.original_name, file.size) == (path.name, len(PDF))
    assert file.sha256 == hashlib.sha256(PDF).hexdigest()
    assert file.uploaded_by == "cli"
    assert len(stored_objects(app, s3)) == 1
    assert file.storage_key.startswith("files/") and "guide" not in file.storage_key


def test_cli_upload_with_slug_and_cover_as_draft(
    app_context: None, app: Flask, runner: Any, tmp_path: Path, s3: Any
) -> None:
    (tmp_path / "c.png").write_bytes(PNG)
    (tmp_path / "g.pdf").write_bytes(PDF)
    result = runner.invoke(
        args=["magnets", "upload", str(tmp_path / "g.pdf"), "--title", "T", "--kind", "checklist",
              "--slug", "my-list", "--cover", str(tmp_path / "c.png")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "my-list\n"
    magnet = get_magnet("my-list")
    assert magnet is not None and magnet.status == MagnetStatus.DRAFT
    assert magnet.cover_type == "image/png" and magnet.cover_key.startswith("covers/")
    assert len(stored_objects(app, s3)) == 2


@pytest.mark.parametrize(
    "case", ["html-as-pdf", "pdf-then-zip", "zip-traversal", "zip-with-program", "empty"]
)
def test_cli_refuses_hostile_files_and_stores_nothing(
    app_context: None, app: Flask, runner: Any, tmp_path: Path, s3: Any, case: str
) -> None:
    name, data = HOSTILE_MAGNETS[case]
    path = tmp_path / name
    path.write_bytes(data)
    result = runner.invoke(args=["magnets", "upload", str(path), "--title", "X", "--kind", "tool"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip()
    assert stored_objects(app, s3) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Magnet)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MagnetFile)) == 0


def test_cli_refuses_a_bad_cover_before_storing_the_file(
    app: Flask, runner: Any, tmp_path: Path, s3: Any
) -> None:
    (tmp_path / "g.pdf").write_bytes(PDF)
    (tmp_path / "c.png").write_bytes(HOSTILE_COVERS["png-then-zip"][1])
    result = runner.invoke(
        args=["magnets", "upload", str(tmp_path / "g.pdf"), "--title", "X", "--kind", "tool",
              "--cover", str(tmp_path / "c.png")],
    )  # fmt: skip
    assert result.exit_code == 1 and "c.png" in result.stderr
    assert stored_objects(app, s3) == []


def test_cli_reports_bad_options_on_stderr(app: Flask, runner: Any, tmp_path: Path) -> None:
    (tmp_path / "g.pdf").write_bytes(PDF)
    args = ["magnets", "upload", str(tmp_path / "g.pdf"), "--title", "X", "--kind", "ebook"]
    assert runner.invoke(args=[*args, "--slug", "taken"]).exit_code == 0
    again = runner.invoke(args=[*args, "--slug", "taken"])
    assert again.exit_code == 1 and "already exists" in again.stderr
    bad = runner.invoke(args=[*args, "--slug", "Not A Slug"])
    assert bad.exit_code == 1 and "--slug" in bad.stderr
    kind = runner.invoke(args=[*args[:-1], "podcast"])
    assert kind.exit_code == 2 and "podcast" in kind.stderr
