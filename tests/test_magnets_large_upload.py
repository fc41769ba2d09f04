"""A 200 MB magnet goes through the upload path in flat memory (the one large-file test)."""

from __future__ import annotations

import hashlib
import resource
from pathlib import Path
from typing import Any

from flask import Flask

from magnets.magnet import get_magnet

MB = 1024 * 1024
SIZE = 200 * MB


def write_large_pdf(path: Path) -> str:
    """A PDF with a 200 MB stream, written 1 MB at a time; returns its sha256."""
    digest = hashlib.sha256()
    block = (b"Lead scoring, page after page. " * 40_000)[:MB]
    head = b"%PDF-1.4\n1 0 obj\n<< /Length " + str(SIZE).encode() + b" >>\nstream\n"
    tail = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    with path.open("wb") as out:
        for piece in (head, *([block] * (SIZE // MB)), tail):
            out.write(piece)
            digest.update(piece)
    return digest.hexdigest()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def test_a_200_mb_upload_streams_in_flat_memory(app: Flask, runner: Any, tmp_path: Path) -> None:
    path = tmp_path / "big-report.pdf"
    sha256 = write_large_pdf(path)
    before = peak_rss_mb()
    result = runner.invoke(
        args=["magnets", "upload", str(path), "--title", "Big", "--kind", "report", "--publish"]
    )
    growth = peak_rss_mb() - before
    print(f"\n200 MB upload: peak RSS grew by {growth:.1f} MB (peak {peak_rss_mb():.0f} MB)")
    assert result.exit_code == 0, result.output
    magnet = get_magnet(result.stdout.strip())
    assert magnet is not None and magnet.current_file is not None
    assert magnet.current_file.size == path.stat().st_size
    assert magnet.current_file.sha256 == sha256
    stored = Path(app.config["STORAGE_URL"].removeprefix("file://")) / (
        magnet.current_file.storage_key
    )
    assert stored.stat().st_size == path.stat().st_size
    # Reading the file whole would add 200 MB; chunks keep it to a few.
    assert growth < 64
