"""Which file types we accept, decided by content (never by name), and why others are refused.

`filetype` gives the first guess from the magic bytes; our own structural checks then confirm
it: a PDF header at offset 0 and a trailer, ZIP members inspected (EPUB and Office layouts,
no executables, links or traversal names), images that end where their format says they end.
Anything that could be read as markup, a script or a program, or is two formats at once, is
refused: a file is served to people who trust us, so we only pass on what we can vouch for.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
from collections.abc import Iterable
from enum import StrEnum
from pathlib import PurePosixPath
from typing import IO

import filetype
from flask_babel import gettext as _

from magnets import pdfcheck

PDF = "application/pdf"
EPUB = "application/epub+zip"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ZIP = "application/zip"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"

EXTENSIONS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",),
    EPUB: (".epub",),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    PPTX: (".pptx",),
    ZIP: (".zip",),
    PNG: (".png",),
    JPEG: (".jpg", ".jpeg"),
    WEBP: (".webp",),
}
ZIP_FAMILY = frozenset({EPUB, DOCX, XLSX, PPTX, ZIP})
MAX_ZIP_MEMBERS = 10_000
# Markers a PDF viewer acts on by itself; legitimate e-books and reports do not need them.
PDF_ACTIVE = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia")
# Tags a browser would sniff as a document; none belongs near the start of a PDF or an image.
MARKUP = (b"<script", b"<html", b"<body", b"<svg", b"<iframe", b"<!doctype", b"<object", b"<embed")
# Markup looked for anywhere in a PDF or image (in lowercased bytes), so long and specific
# that compressed, random-looking data does not hold it by chance; see `Scan`. Every pattern
# starts with `<`, which keeps the search fast (1 MB in under a millisecond); matches are at
# most 96 bytes long.
MARKUP_ANYWHERE = re.compile(
    rb"<(?:(?:script|iframe|object|embed)[\s/>]"
    rb"|(?:html|body)[\s>]"
    rb"|!doctype\s{1,16}html"
    rb"|svg[\s/][^<>]{0,64}?(?:xmlns|on[a-z]{1,16}\s{0,4}=))"
)
SCRIPT_URL = b"javascript:"
OVERLAP = 128  # bytes carried between pieces: longer than any marker or markup match
PROGRAMS = (
    b"MZ",  # Windows PE, DOS
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O, both byte orders, 32 and 64 bit
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal, Java class
    b"#!",
    b"\x00asm",
)
_PROGRAMS = """.exe .dll .com .bat .cmd .scr .msi .msp .ps1 .psm1 .vbs .vbe .js .jse .wsf .wsh
.hta .cpl .jar .sh .bash .app .apk .dmg .pkg .deb .rpm .lnk .reg .inf .scf .msc .pif .gadget
.so .dylib .elf .bin .run .command .url .desktop"""
PROGRAM_SUFFIXES = frozenset(_PROGRAMS.split())


class Purpose(StrEnum):
    MAGNET = "magnet"
    COVER = "cover"


class Refused(ValueError):
    """The content is not one we deliver; the message tells the uploader what to do."""

    def __init__(self, message: str, status: int = 415):
        super().__init__(message)
        self.message = message
        self.status = status


class Scan:
    """What a file holds anywhere in it, gathered piece by piece as it is read.

    Each piece is searched together with the last `OVERLAP` bytes of the one before, so a
    marker split across two pieces is found; memory is one piece plus the overlap.

    False positives: compressed PDF streams and image data look random, and a random byte
    string contains a given case-insensitive n-letter tag with probability about
    size x 2^-(8 + 7n). The markup patterns are therefore whole tags with their delimiter
    (`<script` then a space, `/` or `>`; `<html` then a space or `>`), `<!doctype html`,
    `<svg` only with `xmlns` or an event handler in the same tag, and `javascript:`; the
    shortest, `<html>`/`<body>`, is expected about once in 2^41 random bytes (a 250 MB PDF of
    compressed streams: about 1 in 8,000; a 10 MB one: about 1 in 200,000). Text in an
    uncompressed PDF stream that quotes such a tag (a web development guide) is refused too;
    exporting with compression fixes that. Bare `<svg`, `<body`, `<object` without a
    delimiter are only looked for in the first 4 KB (`MARKUP`), where chance matches are rare.
    """

    def __init__(self) -> None:
        self.active: set[bytes] = set()
        self.markup: bytes | None = None
        self._carry = b""

    def feed(self, piece: bytes) -> None:
        window = self._carry + piece
        self.active |= {marker for marker in PDF_ACTIVE if _has_name(window, marker)}
        if self.markup is None:
            lowered = window.lower()  # ASCII only, as HTML tag names are
            if found := MARKUP_ANYWHERE.search(lowered):
                self.markup = found.group()
            elif SCRIPT_URL in lowered:
                self.markup = SCRIPT_URL
        self._carry = window[-OVERLAP:]


def _has_name(data: bytes, name: bytes) -> bool:
    # A PDF name ends at a delimiter or whitespace: `/JS` must not match `/JSON`.
    start = data.find(name)
    while start != -1:
        end = start + len(name)
        if end >= len(data) or data[end : end + 1] in b" \t\r\n\f\x00/<>[]()%":
            return True
        start = data.find(name, start + 1)
    return False


def identify(file: IO[bytes], head: bytes, size: int, scan: Scan, purpose: Purpose) -> str:
    """The content type of `file` (seekable; `head` is its start, `scan` fed all of it), or
    `Refused` saying why. Markup found by `scan` refuses PDFs and images, not archives: EPUB and
    Office files hold XHTML and XML by design, stored or deflated, and a browser sniffing an
    archive sees `PK` at its start (markup there is refused, as is data before the archive)."""
    if size == 0:
        raise Refused(_("The file is empty."), 400)
    _refuse_programs_and_markup(head)
    guess = filetype.guess_mime(head)
    if purpose is Purpose.COVER:
        return _image(file, head, size, guess, scan)
    if guess == PDF and head.startswith(b"%PDF-"):
        return _pdf(file, head, scan)
    if guess in ZIP_FAMILY or head.startswith(b"PK\x03\x04"):
        return _archive(file)
    raise Refused(
        _("Upload a PDF, EPUB, Word (.docx), Excel (.xlsx), PowerPoint (.pptx) or ZIP file.")
        + _unknown(guess)
    )


def _unknown(guess: str | None) -> str:
    return " " + _("This file looks like %(type)s.", type=guess) if guess else ""


def _refuse_programs_and_markup(head: bytes) -> None:
    start = head.lstrip(b"\xef\xbb\xbf\xfe\xff \t\r\n\f\x00")
    if start.startswith(PROGRAMS):
        raise Refused(_("Programs and scripts cannot be uploaded."))
    if start.startswith(b"<"):
        raise Refused(_("HTML, SVG and other markup files cannot be uploaded."))


def _markup_near_start(head: bytes) -> bool:
    window = head[:4096].lower()
    return any(tag in window for tag in MARKUP)


def _tail(file: IO[bytes], length: int = 2048) -> bytes:
    file.seek(0, 2)
    file.seek(max(0, file.tell() - length))
    return file.read()


def _pdf(file: IO[bytes], head: bytes, scan: Scan) -> str:
    tail = _tail(file)
    if b"%%EOF" not in tail or b"startxref" not in tail:
        raise Refused(_("The PDF is damaged or incomplete (no end-of-file marker)."))
    if _markup_near_start(head) or scan.markup or zipfile.is_zipfile(file):
        raise Refused(_("The file is a PDF and another format at once; upload a plain PDF."))
    if scan.active:
        raise Refused(
            _("The PDF contains scripts, launch actions or embedded files; export it without them.")
        )
    # The byte scan misses names written with escapes and objects in compressed streams.
    try:
        found = pdfcheck.active_content(file)
    except pdfcheck.Unreadable as error:
        raise Refused(
            _("The PDF cannot be read to check it (damaged or password-protected).")
        ) from error
    except pdfcheck.TooComplex as error:
        raise Refused(_("The PDF has too many objects to check.")) from error
    if found:
        raise Refused(
            _("The PDF contains scripts, launch actions or embedded files; export it without them.")
        )
    return PDF


def _bad_member_name(name: str) -> bool:
    if not name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return True
    if any(ord(ch) < 32 or ord(ch) == 127 or 0x202A <= ord(ch) <= 0x202E for ch in name):
        return True
    return ".." in PurePosixPath(name).parts


def _archive(file: IO[bytes]) -> str:
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
            if not members:
                raise Refused(_("The archive is empty."), 400)
            if len(members) > MAX_ZIP_MEMBERS:
                raise Refused(_("The archive has too many files."))
            if min(m.header_offset for m in members) != 0:
                raise Refused(_("The archive has data before it; upload a plain archive."))
            names = {m.filename for m in members}
            _check_members(archive, members)
            return _archive_type(archive, names)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as e:
        raise Refused(_("The archive is damaged or uses an unsupported format.")) from e


def _check_members(archive: zipfile.ZipFile, members: Iterable[zipfile.ZipInfo]) -> None:
    for member in members:
        if _bad_member_name(member.filename):
            raise Refused(_("The archive contains a file with an unsafe name."))
        if stat.S_ISLNK(member.external_attr >> 16):
            raise Refused(_("The archive contains links to other files."))
        if member.flag_bits & 0x1:
            raise Refused(_("Encrypted archives cannot be checked; upload it unencrypted."))
        name = member.filename.lower()
        if PurePosixPath(name).suffix in PROGRAM_SUFFIXES or name.endswith("vbaproject.bin"):
            raise Refused(_("The archive contains programs, scripts or macros."))
        if member.is_dir() or member.file_size == 0:
            continue
        with archive.open(member) as handle:
            if handle.read(4).startswith(PROGRAMS):
                raise Refused(_("The archive contains programs, scripts or macros."))


def _archive_type(archive: zipfile.ZipFile, names: set[str]) -> str:
    if (
        "mimetype" in names
        and "META-INF/container.xml" in names
        and archive.read("mimetype")[:64].strip() == b"application/epub+zip"
    ):
        return EPUB
    if "[Content_Types].xml" in names:
        for part, kind in (
            ("word/document.xml", DOCX),
            ("xl/workbook.xml", XLSX),
            ("ppt/presentation.xml", PPTX),
        ):
            if part in names:
                return kind
        raise Refused(_("Of Office files, only .docx, .xlsx and .pptx documents are taken."))
    return ZIP


def _image(file: IO[bytes], head: bytes, size: int, guess: str | None, scan: Scan) -> str:
    if guess not in {PNG, JPEG, WEBP}:
        raise Refused(_("Upload the cover as a PNG, JPEG or WebP image.") + _unknown(guess))
    if _markup_near_start(head) or scan.markup or zipfile.is_zipfile(file):
        raise Refused(_("The image is also another format at once; export a plain image."))
    tail = _tail(file, 64)
    if guess == PNG:
        ok = head.startswith(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR") and tail.endswith(
            b"IEND\xaeB`\x82"
        )
    elif guess == JPEG:
        ok = head.startswith(b"\xff\xd8\xff") and tail.rstrip(b"\x00").endswith(b"\xff\xd9")
    else:
        declared = struct.unpack("<I", head[4:8])[0] + 8 if len(head) >= 12 else -1
        ok = head[:4] == b"RIFF" and head[8:12] == b"WEBP" and declared == size
    if not ok:
        raise Refused(_("The image is damaged or has data appended to it."))
    return guess


def matches_name(content_type: str, name: str) -> bool:
    return name.lower().endswith(EXTENSIONS[content_type])
