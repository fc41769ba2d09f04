"""Receiving an upload: streamed to a temporary file while hashed and counted, then checked.

Memory stays flat whatever the size (1 MB at a time); an oversized file is refused as soon as
it passes the limit. Only a file that passed every check reaches the store, under a random key,
and only then is a row written: a refused upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from flask import current_app
from flask_babel import gettext as _

from capture.base.db import db
from magnets.filetypes import EXTENSIONS, Purpose, Refused, Scan, identify, matches_name
from magnets.magnet import Magnet, MagnetFile
from magnets.storage import storage

CHUNK = 1024 * 1024
HEAD = 64 * 1024
MAX_NAME = 200


@dataclass
class Received:
    """A checked upload in a temporary file; valid inside the `receive` block only."""

    file: IO[bytes]
    name: str
    size: int
    sha256: str
    content_type: str


def check_name(filename: str | None) -> str:
    """The uploaded name as it will be offered for download, or `Refused`.

    Refused rather than cleaned: a name with a path, control or bidi characters is a sign of
    a crafted file, and silently changing it would hide that from the marketer.
    """
    name = unicodedata.normalize("NFC", (filename or "").strip())
    if not name:
        raise Refused(_("The file has no name."), 400)
    if len(name) > MAX_NAME:
        raise Refused(_("The file name is too long."), 400)
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in name):
        raise Refused(_("The file name contains control characters."), 400)
    if "/" in name or "\\" in name or name in {".", ".."} or name.startswith("."):
        raise Refused(_("The file name must be a plain name, without folders."), 400)
    return name


def limit_for(purpose: Purpose) -> int:
    config = current_app.config
    return config["MAGNET_MAX_BYTES"] if purpose is Purpose.MAGNET else config["COVER_MAX_BYTES"]


@contextmanager
def receive(stream: IO[bytes], filename: str | None, purpose: Purpose) -> Iterator[Received]:
    """Spool, hash, count and identify `stream`; raises `Refused` with a message to show."""
    name = check_name(filename)
    limit = limit_for(purpose)
    with tempfile.TemporaryFile(prefix="leadgate-upload-") as spool:
        digest = hashlib.sha256()
        size, head, scan = 0, b"", Scan()
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise Refused(
                    _("The file is larger than %(mb)s MB.", mb=limit // (1024 * 1024)), 413
                )
            digest.update(chunk)
            spool.write(chunk)
            if len(head) < HEAD:
                head += chunk[: HEAD - len(head)]
            scan.feed(chunk)
        spool.flush()
        content_type = identify(spool, head, size, scan, purpose)
        if not matches_name(content_type, name):
            # The content decides; the name only gains the extension that tells the truth.
            name = name + EXTENSIONS[content_type][0]
        spool.seek(0)
        yield Received(spool, name, size, digest.hexdigest(), content_type)


def new_key(folder: str, content_type: str) -> str:
    return f"{folder}/{secrets.token_urlsafe(24)}{EXTENSIONS[content_type][0]}"


def store_file(magnet: Magnet, received: Received, uploaded_by: str | None) -> MagnetFile:
    """Put the file in the store and make it the magnet's current one; history is kept.

    Raises `StorageUnavailable` before any row is added when the store cannot take it.
    """
    key = new_key("files", received.content_type)
    received.file.seek(0)
    storage().put(received.file, key, received.content_type)
    row = MagnetFile(
        storage_key=key,
        original_name=received.name,
        content_type=received.content_type,
        size=received.size,
        sha256=received.sha256,
        uploaded_by=uploaded_by,
    )
    magnet.files.append(row)
    magnet.current_file = row
    db.session.flush()
    return row


def store_cover(magnet: Magnet, received: Received) -> str | None:
    """Store a new cover; returns the previous cover's key for the caller to delete after commit."""
    key = new_key("covers", received.content_type)
    received.file.seek(0)
    storage().put(received.file, key, received.content_type)
    previous = magnet.cover_key
    magnet.cover_key = key
    magnet.cover_type = received.content_type
    magnet.cover_sha256 = received.sha256
    db.session.flush()
    return previous
