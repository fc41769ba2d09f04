"""The demo's lead magnet: a small e-book made in code, its cover and its landing page.

Goes through the same checks and store as a real upload, so `leadgate demo` shows the whole
path working on the embedded defaults (local disk).
"""

from __future__ import annotations

import io
import struct
import zlib

from flask_babel import force_locale

from capture.base.db import db
from capture.ops.demo import base_url
from magnets.filetypes import Purpose
from magnets.magnet import Magnet, MagnetKind, get_magnet
from magnets.uploads import receive, store_cover, store_file

SLUG = "lead-scoring-guide"
DESCRIPTION = """\
Hvilke leads er klar til salg, og hvilke skal plejes lidt endnu? Guiden viser, hvordan du
giver point for **adfærd** og **match**, så salg får de rigtige leads på det rigtige tidspunkt.

- Point for besøg, downloads og formularer
- Minuspoint for inaktivitet
- Hvornår et lead bliver MQL, og hvornår det bliver SQL (BANT)
"""
# The page in Swedish and English, and every language's cover text and button (magnets.copy).
TEXTS = {
    "da": {"cover_alt": "Forsiden af guiden til lead scoring", "button": "Hent e-bogen"},
    "sv": {
        "headline": "Ge säljarna rätt leads, vid rätt tidpunkt",
        "body": """\
Vilka leads är redo för försäljning, och vilka behöver vårdas lite till? Guiden visar hur du
ger poäng för **beteende** och **passform**, så att säljarna får rätt leads vid rätt tidpunkt.

- Poäng för besök, nedladdningar och formulär
- Minuspoäng för inaktivitet
- När ett lead blir MQL, och när det blir SQL (BANT)
""",
        "cover_alt": "Omslaget till guiden om lead scoring",
        "button": "Hämta e-boken",
    },
    "en": {
        "headline": "Give sales the right leads, at the right time",
        "body": """\
Which leads are ready for sales, and which need nurturing a little longer? The guide shows how
to score **behaviour** and **fit**, so sales gets the right leads at the right time.

- Points for visits, downloads and forms
- Minus points for inactivity
- When a lead becomes an MQL, and when it becomes an SQL (BANT)
""",
        "cover_alt": "The cover of the lead scoring guide",
        "button": "Get the e-book",
    },
}
PAGES = [
    ("The lead scoring guide", ["A short guide for marketing and sales teams."]),
    (
        "1. Behaviour and fit",
        [
            "Engagement: conversions, downloads, page visits; points decay when idle.",
            "Fit: job title, company size, industry, country.",
        ],
    ),
    (
        "2. From MQL to SQL",
        [
            "Set an MQL threshold for marketing and an SQL threshold for sales.",
            "A lead that meets your BANT rule is an SQL whatever its score.",
        ],
    ),
]


def _pdf_text(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1", "replace")


def guide_pdf(pages: list[tuple[str, list[str]]] = PAGES) -> bytes:
    """A valid PDF (one page per heading, Helvetica, correct cross-reference table)."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for index, (heading, lines) in enumerate(pages):
        content = b"BT /F1 22 Tf 72 770 Td (" + _pdf_text(heading) + b") Tj /F1 12 Tf"
        for line in lines:
            content += b" 0 -28 Td (" + _pdf_text(line) + b") Tj"
        content += b" ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents "
            + str(5 + 2 * index).encode()
            + b" 0 R >>"
        )
        objects.append(
            b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content
            + b"\nendstream"
        )  # fmt: skip
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def cover_png(width: int = 600, height: int = 315) -> bytes:
    """A plain blue gradient, enough to show the cover and the Open Graph image working."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        shade = 90 + (120 * y) // height
        for x in range(width):
            rows += bytes((31, shade // 2 + (40 * x) // width, 191))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def fill_magnets() -> list[str]:
    """Add the published e-book that the demo form `ebook-lead-scoring` gates."""
    with force_locale("en"):  # messages of a refusal, should the demo files ever be refused
        _fill()
    return [f"E-book landing page (da/sv/en): {base_url()}/p/{SLUG}   (Swedish: ?lang=sv)"]


def _fill() -> None:
    if get_magnet(SLUG) is None:
        magnet = Magnet(
            slug=SLUG,
            title="Guiden til lead scoring",
            headline="Giv salg de rigtige leads, på det rigtige tidspunkt",
            description=DESCRIPTION,
            kind=MagnetKind.EBOOK,
            language="da",
            texts=TEXTS,
        )
        db.session.add(magnet)
        db.session.flush()
        with receive(io.BytesIO(guide_pdf()), "lead-scoring-guide.pdf", Purpose.MAGNET) as pdf:
            store_file(magnet, pdf, uploaded_by="demo")
        with receive(io.BytesIO(cover_png()), "cover.png", Purpose.COVER) as image:
            store_cover(magnet, image)
        magnet.publish()
