"""Where magnet files and covers live: one narrow interface over the local disk or S3.

`STORAGE_URL` picks the backend once at start-up (`file:///path` or `s3://bucket/prefix`).
Backends return data and URLs, never Flask responses, and raise `StorageUnavailable` when
the store cannot be reached, so callers can answer 503 and lose nothing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import IO, Literal, Protocol
from urllib.parse import quote, unquote, urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, current_app
from werkzeug.http import dump_options_header

log = logging.getLogger(__name__)

PRESIGNED_SECONDS = 60
# How long an object that answered a HEAD is taken to be there and reachable: within it a
# download presigns without a round trip to S3; an outage shows on the next check at the latest.
CHECKED_SECONDS = 5.0
# A presigned URL for the same object, name and type is handed out again for this long: every
# URL still has at least PRESIGNED_SECONDS - REUSE_SECONDS to live when it is handed out (55 s
# of its minute). botocore's presigning costs about 0.5 ms of CPU (endpoint rules, hooks,
# SigV4), more than the rest of a download's Python; under load one worker mints one URL per
# object per interval. The URL names no lead: whoever holds it could download the object
# anyway, and every download is still recorded on its own.
REUSE_SECONDS = 5.0
KEY_RE = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_.-]+)*$")
# Multipart in 8 MB parts, one at a time in the calling thread. With threads, s3transfer reads
# up to ten parts ahead of the uploads (its `max_in_memory_upload_chunks`, which boto3's config
# does not expose): +40 to +110 MB for a 200 MB file. Without, each part is read, sent and
# dropped before the next: the worker grows by about 1 MB (tests/test_magnets_large_upload.py).
# The cost is parallelism: parts go up one after the other, fine for a back-office upload.
TRANSFER = TransferConfig(
    multipart_threshold=8 * 1024 * 1024,
    multipart_chunksize=8 * 1024 * 1024,
    use_threads=False,
)


class StorageError(RuntimeError):
    """The store could not do what was asked."""


class StorageUnavailable(StorageError):
    """Unreachable, timing out, refusing us, or missing the object: try again later."""


class Storage(Protocol):
    # True when downloads are redirects to presigned URLs; False when the app streams them.
    presigns: bool

    def put(self, stream: IO[bytes], key: str, content_type: str) -> None: ...

    def open(self, key: str) -> IO[bytes]: ...

    def presigned_url(self, key: str, filename: str, content_type: str) -> str | None: ...

    def delete(self, key: str) -> None: ...


# Letters NFKD cannot take apart, spelled out for the ASCII fallback name ("Før" -> "Foer").
_SPELLED_OUT = str.maketrans(
    {"ø": "oe", "Ø": "Oe", "æ": "ae", "Æ": "Ae", "ß": "ss", "đ": "d", "ł": "l", "Ł": "L"}
)


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """An RFC 6266 header: an ASCII `filename` for old clients, `filename*` for the real name."""
    cleaned = "".join(ch for ch in filename if unicodedata.category(ch)[0] != "C") or "download"
    try:
        cleaned.encode("ascii")
    except UnicodeEncodeError:
        spelled = cleaned.translate(_SPELLED_OUT)
        simple = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
        return dump_options_header(
            disposition,
            {
                "filename": simple if simple.strip()[:1].isalnum() else "download" + simple,
                "filename*": "UTF-8''" + quote(cleaned, safe="!#$&+^`|~"),
            },
        )
    return dump_options_header(disposition, {"filename": cleaned})


def _checked(key: str) -> str:
    # Keys are made by us (random); refuse anything else rather than trust it near a path.
    if not KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    """Files under a directory; downloads are streamed by the app (no presigned URLs)."""

    presigns = False

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, stream: IO[bytes], key: str, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, then rename: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except OSError as exc:
            raise StorageUnavailable(f"cannot open {key}: {exc.strerror}") from exc

    def presigned_url(self, key: str, filename: str, content_type: str) -> str | None:
        return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    """Objects in a bucket under a prefix, through one boto3 client made at start-up."""

    presigns = True

    def __init__(
        self,
        bucket: str,
        prefix: str,
        endpoint_url: str | None,
        checked_for: float = CHECKED_SECONDS,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.checked_for = checked_for
        # Object key -> monotonic time of its last good HEAD, in this process.
        self._answered: dict[str, float] = {}
        # (object key, file name, type) -> (monotonic time it was minted, presigned URL).
        self._minted: dict[tuple[str, str, str], tuple[float, str]] = {}
        # Path-style for S3-compatible endpoints (MinIO, moto, Ceph) that have no bucket DNS.
        addressing: Literal["path", "auto"] = "path" if endpoint_url else "auto"
        # The default session shares botocore's loaded service models between apps.
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing},
                connect_timeout=3,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def _key(self, key: str) -> str:
        key = _checked(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, stream: IO[bytes], key: str, content_type: str) -> None:
        try:
            self.client.upload_fileobj(
                stream,
                self.bucket,
                self._key(key),
                ExtraArgs={"ContentType": content_type},
                Config=TRANSFER,
            )
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise StorageUnavailable(f"upload of {key} failed: {exc}") from exc

    def open(self, key: str) -> IO[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            # botocore's StreamingBody is no IO subclass, but has what send_file and our
            # callers use of a binary file: read(), iteration and close().
            return body  # type: ignore[return-value]
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc}") from exc

    def presigned_url(self, key: str, filename: str, content_type: str) -> str:
        """A URL valid for about a minute that downloads `key` as an attachment named `filename`.

        Presigning alone never talks to S3, so a HEAD makes sure the object is there and the
        store answers: a link we hand out must work, or the caller shows a retry page. One HEAD
        per object every `checked_for` seconds, not one per download: a round trip per link
        would cost more than everything else on the way to the redirect. The URL itself is
        reused for up to REUSE_SECONDS (see there), so it has 55 to 60 seconds left.
        """
        object_key = self._key(key)
        self._check(object_key, key)
        now = time.monotonic()
        wanted = (object_key, filename, content_type)
        minted = self._minted.get(wanted)
        if minted is not None and now - minted[0] < min(REUSE_SECONDS, self.checked_for):
            return minted[1]
        url = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": object_key,
                "ResponseContentDisposition": content_disposition(filename),
                "ResponseContentType": content_type,
            },
            ExpiresIn=PRESIGNED_SECONDS,
        )
        if len(self._minted) >= 1024:
            self._minted.clear()
        self._minted[wanted] = (now, url)
        return url

    def _check(self, object_key: str, key: str) -> None:
        now = time.monotonic()
        answered = self._answered.get(object_key)
        if answered is not None and now - answered < self.checked_for:
            return
        try:
            self.client.head_object(Bucket=self.bucket, Key=object_key)
        except (BotoCoreError, ClientError) as exc:
            self._forget(object_key)
            raise StorageUnavailable(f"cannot reach {key}: {exc}") from exc
        if len(self._answered) >= 1024:  # keys of replaced files would pile up otherwise
            self._answered.clear()
        self._answered[object_key] = now

    def _forget(self, object_key: str) -> None:
        """Neither the answer nor a URL of an object that is gone or unreachable is reused."""
        self._answered.pop(object_key, None)
        for wanted in list(self._minted):  # a copy: threads of a gthread worker share it
            if wanted[0] == object_key:
                self._minted.pop(wanted, None)

    def delete(self, key: str) -> None:
        self._forget(self._key(key))
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"cannot delete {key}: {exc}") from exc


def from_url(url: str, endpoint_url: str | None = None) -> Storage:
    """The backend `STORAGE_URL` names; a bad URL stops start-up with a clear message."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in {"", "localhost"}:
            raise ValueError(f"STORAGE_URL: file URLs take a local path, got {url!r}")
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"STORAGE_URL: s3 URLs need a bucket (s3://bucket/...), got {url!r}")
        return S3Storage(parts.netloc, unquote(parts.path), endpoint_url)
    raise ValueError(f"STORAGE_URL must start with file:// or s3://, got {url!r}")


def storage() -> Storage:
    """The app's one storage backend."""
    return current_app.extensions["leadgate.storage"]


def init_app(app: Flask) -> None:
    app.extensions["leadgate.storage"] = from_url(
        app.config["STORAGE_URL"], app.config.get("S3_ENDPOINT_URL")
    )
