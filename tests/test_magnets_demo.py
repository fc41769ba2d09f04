"""`leadgate demo` leaves a working e-book: landing page, gating form, link, a valid PDF."""

from __future__ import annotations

import re
import zlib
from typing import Any

import sqlalchemy as sa
from flask import Flask

from capture.base.db import db
from capture.delivery.outbox import OutboxMessage
from magnets.demo import cover_png, guide_pdf
from magnets.magnet import get_magnet


def test_demo_magnet_works_end_to_end(
    app_context: None, app: Flask, runner: Any, client: Any, submit: Any
) -> None:
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "/p/lead-scoring-guide" in result.output
    magnet = get_magnet("lead-scoring-guide")
    assert magnet is not None and magnet.is_published and magnet.kind == "ebook"
    assert magnet.cover_type == "image/png"

    page = client.get("/p/lead-scoring-guide")
    assert page.status_code == 200
    assert 'action="/f/ebook-lead-scoring"' in page.get_data(as_text=True)

    answer = submit(
        "ebook-lead-scoring",
        {"email": "ane@firma.dk", "first_name": "Ane"},
        consents={"processing": True},
    ).get_json()
    download = client.get(answer["download_url"].removeprefix("http://localhost"))
    assert download.status_code == 200
    assert download.get_data() == guide_pdf()
    assert "filename=lead-scoring-guide.pdf" in download.headers["Content-Disposition"]
    download.close()
    [mail] = db.session.scalars(sa.select(OutboxMessage)).all()
    assert mail.payload["template"] == "magnet" and mail.payload["language"] == "da"
    assert answer["download_url"] in mail.payload["text"]


def test_the_demo_pdf_is_well_formed() -> None:
    pdf = guide_pdf()
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    start = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))
    assert pdf[start:].startswith(b"xref\n0 ")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n ", pdf)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
    for length, body in re.findall(rb"<< /Length (\d+) >>\nstream\n(.*?)\nendstream", pdf, re.S):
        assert int(length) == len(body)


def test_the_demo_cover_is_a_valid_png() -> None:
    png = cover_png(8, 4)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    position, kinds = 8, []
    while position < len(png):
        length = int.from_bytes(png[position : position + 4], "big")
        kind = png[position + 4 : position + 8]
        body = png[position + 4 : position + 8 + length]
        crc = int.from_bytes(png[position + 8 + length : position + 12 + length], "big")
        assert zlib.crc32(body) == crc
        kinds.append(kind)
        position += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    assert len(zlib.decompress(png[41 : 41 + int.from_bytes(png[33:37], "big")])) == 4 * (1 + 8 * 3)
