"""PDF scripts, launch actions and embedded files are found however the PDF writes them.

A PDF whose action was written `/J#61vaScript` (a name escape), or kept in a compressed object
stream, passed the byte scan and was served. The PDFs here are made by hand, byte for byte, so
each trick is exactly the one named.
"""

from __future__ import annotations

import io
import zlib

import pytest
from flask import Flask
from pypdf import PdfWriter

from magnets.demo import guide_pdf
from magnets.filetypes import PDF, Purpose, Refused
from magnets.uploads import receive
from wsgi import create_app

PAGE = b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 200 200] %s>>"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    root = tmp_path_factory.mktemp("pdf")
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-0123456789abcdefghijklmnop",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'unused.sqlite3'}",
            "STORAGE_URL": (root / "storage").as_uri(),
        }
    )


def check(app: Flask, data: bytes) -> str:
    """The content type the upload check gives `data`, or the refusal's message."""
    try:
        with (
            app.test_request_context(),
            receive(io.BytesIO(data), "guide.pdf", Purpose.MAGNET) as f,
        ):
            return f.content_type
    except Refused as refused:
        assert refused.status == 415
        return refused.message


def plain_pdf(catalog_extra: bytes = b"", page_extra: bytes = b"", more: tuple = ()) -> bytes:
    """Objects written out in the file, with a classic cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 3 0 R " + catalog_extra + b">>",
        b"<< /Producer (hand) >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        PAGE % page_extra,
        *more,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref))  # fmt: skip
    return out.getvalue()


def object_stream_pdf(
    catalog_extra: bytes = b"", page_extra: bytes = b"", more: tuple = ()
) -> bytes:
    """The same objects inside one Flate-compressed object stream, with a cross-reference
    stream (PDF 1.5): no byte of any dictionary is visible in the file."""
    inside = [
        b"<< /Type /Catalog /Pages 3 0 R " + catalog_extra + b">>",
        b"<< /Producer (hand) >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        PAGE % page_extra,
        *more,
    ]
    numbers = list(range(1, len(inside) + 1))
    stream_number = len(inside) + 1
    xref_number = stream_number + 1
    bodies, header_parts, offset = b"", [], 0
    for number, body in zip(numbers, inside, strict=True):
        header_parts.append(b"%d %d" % (number, offset))
        bodies += body + b"\n"
        offset = len(bodies)
    header = b" ".join(header_parts) + b"\n"
    packed = zlib.compress(header + bodies)
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    stream_offset = out.tell()
    out.write(
        b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (stream_number, len(inside), len(header), len(packed))
        + packed
        + b"\nendstream\nendobj\n"
    )
    xref_offset = out.tell()
    rows = [b"\x00" + (0).to_bytes(4, "big") + b"\xff\xff"]
    rows += [b"\x02" + stream_number.to_bytes(4, "big") + i.to_bytes(2, "big")
             for i in range(len(inside))]  # fmt: skip
    rows.append(b"\x01" + stream_offset.to_bytes(4, "big") + b"\x00\x00")
    rows.append(b"\x01" + xref_offset.to_bytes(4, "big") + b"\x00\x00")
    data = b"".join(rows)
    out.write(
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % (xref_number, xref_number + 1, len(data))
        + data
        + b"\nendstream\nendobj\n"
    )
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref_offset)
    return out.getvalue()


REFUSED = "The PDF contains scripts, launch actions or embedded files; export it without them."
JS_ACTION = b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"
# name -> (catalog extra, page extra, more objects): each a place a viewer looks for actions.
TRICKS = {
    "open-action-escaped": (b"/OpenAction " + JS_ACTION, b"", ()),
    "names-tree-javascript": (b"/Names << /#4Aava#53cript 5 0 R >>", b"", (b"<< /Names [] >>",)),
    "page-additional-action": (b"", b"/AA << /O " + JS_ACTION + b" >> ", ()),
    "annotation-action": (
        b"",
        b"/Annots [5 0 R] ",
        (b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A " + JS_ACTION + b" >>",),
    ),
    "launch-action": (b"/OpenAction << /S /#4caunch /F (calc.exe) >>", b"", ()),
    "embedded-files": (b"/Names << /Embedded#46iles 5 0 R >>", b"", (b"<< /Names [] >>",)),
    "embedded-file-stream": (
        b"/AF [5 0 R]",
        b"",
        (b"<< /Type /Filespec /F (a.exe) /EF << /F 6 0 R >> >>", b"<< /Type /Embedded#46ile >>"),
    ),
    "xfa-form": (b"/AcroForm << /Fields [] /#58FA 5 0 R >>", b"", (b"<< >>",)),
    "rich-media": (
        b"",
        b"/Annots [5 0 R] ",
        (b"<< /Type /Annot /Subtype /Rich#4dedia /Rect [0 0 9 9] >>",),
    ),
}


@pytest.mark.parametrize("build", [plain_pdf, object_stream_pdf], ids=["plain", "object-stream"])
@pytest.mark.parametrize("trick", TRICKS)
def test_active_content_is_refused_however_it_is_written(app, build, trick):
    data = build(*TRICKS[trick])
    assert b"/JavaScript" not in data and b"/JS " not in data
    assert check(app, data) == REFUSED


@pytest.mark.parametrize("build", [plain_pdf, object_stream_pdf], ids=["plain", "object-stream"])
def test_plain_pdfs_pass_however_they_are_written(app, build):
    # A key that merely starts like an active one is no action.
    assert check(app, build(b"/JSONish true /Lang (da)")) == PDF
    assert check(app, guide_pdf()) == PDF


def test_pdfs_written_by_pypdf_are_checked_too(app):
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    clean = io.BytesIO()
    writer.write(clean)
    assert check(app, clean.getvalue()) == PDF
    attached = PdfWriter()
    attached.add_blank_page(200, 200)
    attached.add_attachment("notes.txt", b"hello")
    out = io.BytesIO()
    attached.write(out)
    assert check(app, out.getvalue()) == REFUSED


def test_a_pdf_the_parser_cannot_read_is_refused(app):
    no_catalog = plain_pdf().replace(b"/Root 1 0 R", b"/Root 9 0 R")
    assert check(app, no_catalog).startswith("The PDF cannot be read to check it")
    no_xref = (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )
    assert check(app, no_xref).startswith("The PDF is damaged or incomplete")
