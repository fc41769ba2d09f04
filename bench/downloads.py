"""Download links: `GET /d/<token>` to its 302 (grant check, S3 presign, download recorded)
against a bare Flask redirect, under the same gunicorn settings.

S3 is moto in server mode on a loopback port; the magnet goes in with `leadgate magnets upload`,
and the link comes from a real submission of a form that gates it.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import boto3
import requests
import yaml
from moto.server import ThreadedMotoServer

from bench.database import ROOT, BenchDatabase
from bench.load import GET_SCRIPT, LoadResult, run_script
from bench.server import Gunicorn, free_port, server_env
from bench.submissions import Paired, Settings
from bench.table import Row, number, verdict
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import save_spec
from magnets.demo import guide_pdf
from wsgi import create_app

THROUGHPUT_BAR = 0.6
FORM = "bench-guide-form"
AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def run(settings: Settings, log: IO[str], notes: list[str]) -> list[Row]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"bench-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys()).create_bucket(
        Bucket=bucket
    )
    database = BenchDatabase(settings.database_url)
    env = server_env(
        DATABASE_URL=database.url_string,
        BASELINE_DATABASE_URL=database.baseline_url,
        SECRET_KEY=secrets.token_urlsafe(48),
        SUPPRESSION_KEY=secrets.token_urlsafe(48),
        LEADGATE_ENV="production",
        LEADGATE_ALLOW_CONSOLE_MAIL="1",  # no mail server in the bench
        LEADGATE_FORM_MIN_FILL_SECONDS="0",
        RATELIMIT_ENABLED="0",
        PUBLIC_BASE_URL="https://leads.bench.example",
        WEB_CONCURRENCY=str(settings.workers),
        STORAGE_URL=f"s3://{bucket}/magnets",
        S3_ENDPOINT_URL=endpoint,
        **AWS,
    )
    try:
        with (
            Gunicorn("wsgi:create_app()", env, log) as ours,
            Gunicorn("bench.baseline:create_app()", env, log) as bare,
        ):
            database.create(env)
            _gated_magnet(database, env)
            ours.wait()
            bare.wait()
            path = _download_path(ours.url)
            targets = {"ours": (ours.url, path), "bare": (bare.url, "/redirect")}

            def load(side: str, seconds: float) -> LoadResult:
                url, target = targets[side]
                return run_script(url, GET_SCRIPT, [target], seconds, settings.connections)

            for side in targets:
                load(side, settings.warmup)
            paired = Paired()
            for round_ in range(settings.rounds):
                for side in ("bare", "ours") if round_ % 2 == 0 else ("ours", "bare"):
                    getattr(paired, side).append(load(side, settings.seconds))
    finally:
        database.drop()
        s3.stop()
    for side, label in (("ours", "ours"), ("bare", "baseline")):
        for n, load in enumerate(getattr(paired, side), 1):
            notes.append(
                f"download, {label}, round {n}: {number(load.rps)} req/s, p99 "
                f"{load.p99_ms:.1f} ms; statuses {{{load.status_summary()}}}"
            )
    return _rows(paired)


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": "bench"}


def _gated_magnet(database: BenchDatabase, env: dict[str, str]) -> None:
    """Upload the demo guide through the CLI, then gate it behind a copy of the bench form."""
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "guide.pdf"
        pdf.write_bytes(guide_pdf())
        leadgate = str(Path(sys.executable).with_name("leadgate"))
        subprocess.run(
            [leadgate, "magnets", "upload", str(pdf), "--title", "The guide", "--kind", "ebook",
             "--slug", "bench-guide", "--publish"],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
    document = yaml.safe_load((ROOT / "bench" / "form.yaml").read_text(encoding="utf-8"))
    document.update(slug=FORM, magnet="bench-guide")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.url_string, "SECRET_KEY": "x" * 48})
    with app.app_context():
        save_spec(parse_definition(document))
        db.session.commit()
        db.engine.dispose()


def _download_path(base: str) -> str:
    """A real link: submit the gating form, then check the link answers with a redirect."""
    token = requests.get(f"{base}/api/v1/forms/{FORM}", timeout=10).json()["token"]
    answer = requests.post(
        f"{base}/api/v1/forms/{FORM}/submissions",
        json={
            "fields": {"email": "bench@bench.example", "first_name": "Ane"},
            "consents": {"processing": True},
            "token": token,
        },
        timeout=30,
    ).json()
    path = urlsplit(answer["download_url"]).path
    first = requests.get(f"{base}{path}", allow_redirects=False, timeout=30)
    if first.status_code != 302:
        raise RuntimeError(f"the download link answered {first.status_code}, not 302")
    return path


def _errors(load: LoadResult) -> int:
    return load.requests - load.count(302, 303) + load.socket_errors + load.timeouts


def _rows(paired: Paired) -> list[Row]:
    throughput = paired.ratio("rps")
    name = "download link: /d/<token> -> 302"
    errors = sum(map(_errors, paired.ours)), sum(map(_errors, paired.bare))
    return [
        Row(
            f"{name}: throughput",
            f"{number(paired.median('ours', 'rps'))} req/s",
            f"{number(paired.median('bare', 'rps'))} req/s",
            f"{throughput:.2f}",
            f">= {THROUGHPUT_BAR}",
            verdict(throughput >= THROUGHPUT_BAR),
        ),
        Row(
            f"{name}: p99 latency",
            f"{paired.median('ours', 'p99_ms'):.1f} ms",
            f"{paired.median('bare', 'p99_ms'):.1f} ms",
            f"{paired.ratio('p99_ms'):.2f}x",
        ),
        Row(
            f"{name}: not a 302",
            f"{errors[0]} of {number(paired.total('ours', 'requests'))}",
            f"{errors[1]} of {number(paired.total('bare', 'requests'))}",
            "",
            "0",
            verdict(errors == (0, 0)),
        ),
    ]
