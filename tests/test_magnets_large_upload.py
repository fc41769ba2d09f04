"""A 200 MB magnet goes to S3 in bounded memory, from the CLI and over HTTP to gunicorn.

Peak memory is read from a process of its own, never from pytest's: `ru_maxrss` of pytest is
a high-water mark for the whole session, so growth below an earlier peak would not show. The
CLI runs twice (1 MB, then 200 MB) and the peaks are compared; the gunicorn worker's VmHWM is
read before and after a 200 MB back-office upload that followed a 1 MB warm-up upload.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from helpers import csrf_token_in, log_in
from processes import GunicornServer

from capture.accounts import Role, create_user
from capture.base.db import db
from magnets.magnet import get_magnet

MB = 1024 * 1024
SIZE = 200 * MB
# With boto3's threaded transfers s3transfer reads up to ten 8 MB parts ahead (+37 to +47 MB
# measured here against moto, +110 MB seen elsewhere); one part at a time grows by about 1 MB.
BOUND_MB = 16
SECRET_KEY = "large-upload-secret-key-0123456789abcdefghij"
PASSWORD = "correct horse battery staple 42"
LEADGATE = Path(sys.executable).with_name("leadgate")


def pdf_parts(size: int) -> tuple[bytes, bytes]:
    """The start and end of a PDF whose one stream, between them, is `size` zero bytes."""
    catalog = b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    pages = b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    page = b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] /Contents 4 0 R >>\nendobj\n"
    start = b"%PDF-1.4\n" + catalog + pages + page
    head = start + b"4 0 obj\n<< /Length " + str(size).encode() + b" >>\nstream\n"
    end = b"\nendstream\nendobj\n"
    offsets = [9, 9 + len(catalog), 9 + len(catalog) + len(pages), len(start)]
    xref = b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(head) + size + len(end)
    )
    return head, end + xref + trailer


def write_sparse(path: Path, head: bytes, size: int, tail: bytes) -> None:
    """`head`, `size` zero bytes as a hole (no disk, no time), `tail`."""
    with path.open("wb") as out:
        out.write(head)
        out.seek(len(head) + size)
        out.write(tail)


def write_pdf(path: Path, size: int) -> str:
    """A valid PDF of about `size` bytes, written sparsely; returns its sha256."""
    head, tail = pdf_parts(size)
    write_sparse(path, head, size, tail)
    digest = hashlib.sha256(head)
    zeros = bytes(MB)
    for _ in range(size // MB):
        digest.update(zeros)
    digest.update(bytes(size % MB) + tail)
    return digest.hexdigest()


@pytest.fixture
def app_config(app_config: dict[str, Any], s3_server: Any) -> dict[str, Any]:
    return {**app_config, **s3_server.settings()}


@pytest.fixture
def process_env(app: Flask, database_url: str) -> dict[str, str]:
    """The environment that points a Leadgate process at the test's database and bucket."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "LEADGATE_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        STORAGE_URL=app.config["STORAGE_URL"],
        S3_ENDPOINT_URL=app.config["S3_ENDPOINT_URL"],
        MAIL_URL="console://",
        RATELIMIT_ENABLED="0",
        LOG_LEVEL="warning",
    )
    return env


@pytest.fixture
def emptied_bucket(app: Flask, s3_server: Any) -> Iterator[str]:
    """The app's bucket, emptied afterwards: moto keeps objects in pytest's memory."""
    bucket = app.config["STORAGE_URL"].split("/")[2]
    yield bucket
    for key in s3_server.keys(bucket):
        s3_server.client.delete_object(Bucket=bucket, Key=key)


def run_measured(path: Path, env: dict[str, str]) -> tuple[str, float]:
    """Run `leadgate magnets upload` in a process of its own: its stdout and peak RSS in MB."""
    command = [str(LEADGATE), "magnets", "upload", str(path), "--title", path.stem]
    command += ["--kind", "report", "--publish"]
    errors = path.with_suffix(".stderr")
    with errors.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err)
        assert process.stdout is not None
        with process.stdout:
            out = process.stdout.read()
        # wait4 on this pid: RUSAGE_CHILDREN would mix in every child pytest ever reaped.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, errors.read_text(errors="replace")
    return out.decode().strip(), usage.ru_maxrss / 1024  # kB on Linux


def test_the_cli_uploads_200_mb_to_s3_in_bounded_memory(
    app_context: None,
    app: Flask,
    process_env: dict[str, str],
    s3_server: Any,
    emptied_bucket: str,
    tmp_path: Path,
) -> None:
    small, large = tmp_path / "small-report.pdf", tmp_path / "large-report.pdf"
    write_pdf(small, MB)
    sha256 = write_pdf(large, SIZE)
    _, baseline = run_measured(small, process_env)
    slug, peak = run_measured(large, process_env)
    growth = peak - baseline
    print(f"\nCLI to S3: peak RSS {baseline:.0f} MB for 1 MB, {peak:.0f} MB for 200 MB "
          f"(+{growth:.0f} MB)")  # fmt: skip
    db.session.expire_all()
    magnet = get_magnet(slug)
    assert magnet is not None and magnet.current_file is not None
    assert magnet.current_file.size == large.stat().st_size
    assert magnet.current_file.sha256 == sha256
    stored = s3_server.client.head_object(
        Bucket=emptied_bucket, Key=f"magnets/{magnet.current_file.storage_key}"
    )
    assert stored["ContentLength"] == large.stat().st_size
    assert growth < BOUND_MB


def high_water_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) / 1024


def write_form(path: Path, boundary: str, fields: dict[str, str], size: int) -> None:
    """A multipart/form-data body with `fields` and a PDF of `size` bytes, written sparsely."""
    lines = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
             for name, value in fields.items()]  # fmt: skip
    lines.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.stem}.pdf"'
        "\r\nContent-Type: application/pdf\r\n\r\n"
    )
    head, tail = pdf_parts(size)
    write_sparse(
        path, "".join(lines).encode() + head, size, tail + f"\r\n--{boundary}--\r\n".encode()
    )


def test_a_200_mb_backoffice_upload_to_s3_keeps_the_worker_bounded(
    app_context: None, app: Flask, process_env: dict[str, str], emptied_bucket: str, tmp_path: Path
) -> None:
    create_user("marketer@firma.dk", Role.MARKETER, PASSWORD)
    db.session.commit()
    server = GunicornServer(
        process_env | {"WEB_CONCURRENCY": "1", "GUNICORN_TIMEOUT": "300"},
        log=tmp_path / "gunicorn.log",
    )
    server.start()
    try:
        (worker,) = server.workers()
        session = requests.Session()
        answer = log_in(session, "marketer@firma.dk", PASSWORD, base_url=server.url)
        assert answer.status_code == 303, server.tail()

        def post(name: str, size: int) -> None:
            token = csrf_token_in(session.get(f"{server.url}/admin/magnets/new", timeout=30).text)
            body, boundary = tmp_path / f"{name}.form", "leadgate-large-upload-boundary"
            fields = {"csrf_token": token, "title": name, "kind": "report", "language": "en"}
            write_form(body, boundary, fields | {"link_lifetime_days": "7"}, size)
            with body.open("rb") as stream:
                response = session.post(
                    f"{server.url}/admin/magnets/new",
                    data=stream,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                    allow_redirects=False,
                    timeout=300,
                )
            assert response.status_code == 303, response.text[-2000:] + server.tail()

        post("warm-up", MB)  # imports, the boto3 client and its connection pool
        before = high_water_mb(worker)
        post("large", SIZE)
        after = high_water_mb(worker)
        assert server.workers() == [worker], "the worker was replaced during the upload"
    finally:
        server.stop()
    print(f"\nback office to S3: worker peak RSS {before:.0f} MB -> {after:.0f} MB "
          f"(+{after - before:.0f} MB)")  # fmt: skip
    db.session.expire_all()
    magnet = get_magnet("large")
    assert magnet is not None and magnet.current_file is not None
    assert magnet.current_file.size == SIZE + sum(len(part) for part in pdf_parts(SIZE))
    assert after - before < BOUND_MB
