"""Download links: `GET /d/<token>` to its 302 (grant check, S3 presign, download recorded)
against a bare Flask view that inserts one row durably and redirects, and against a bare
redirect that writes nothing, under the same gunicorn settings; durable and with
`LEADGATE_DOWNLOAD_ASYNC_COMMIT=1`.

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
from bench.server import Gunicorn, bench_env, free_port
from bench.submissions import Paired, Settings
from bench.table import Row, number, verdict
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import save_spec
from magnets.demo import guide_pdf
from wsgi import create_app

THROUGHPUT_BAR = 0.6
# Links of as many leads, taken in turn: visitors download their own links. One link hammered
# by every connection (one lead's row lock for all) is measured too, without a bar.
LINKS = 64
P99_BAR = 2.0
FORM = "bench-guide-form"
AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def s3_for(env: dict[str, str]) -> ThreadedMotoServer:
    """moto's S3 on a loopback port with a bucket of its own, named in `env` for the app."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"bench-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys()).create_bucket(
        Bucket=bucket
    )
    env.update(STORAGE_URL=f"s3://{bucket}/magnets", S3_ENDPOINT_URL=endpoint, **AWS)
    return s3


def run(settings: Settings, log: IO[str], notes: list[str]) -> list[Row]:
    database = BenchDatabase(settings.database_url)
    env = bench_env(database, settings.workers)
    s3 = s3_for(env)
    asynchronous = {**env, "LEADGATE_DOWNLOAD_ASYNC_COMMIT": "1"}
    try:
        with (
            Gunicorn("wsgi:create_app()", env, log) as ours,
            Gunicorn("wsgi:create_app()", asynchronous, log) as ours_async,
            Gunicorn("bench.baseline:create_app()", env, log) as bare,
        ):
            database.create(env)
            _gated_magnet(database, env)
            for server in (ours, ours_async, bare):
                server.wait()
            paths = _download_paths(ours.url, LINKS)
            targets = {
                "ours": (ours.url, paths),
                "ours_async": (ours_async.url, paths),
                "ours_one_link": (ours.url, paths[:1]),
                "recorded": (bare.url, ["/recorded"]),
                "redirect": (bare.url, ["/redirect"]),
            }

            def load(side: str, seconds: float) -> LoadResult:
                url, target = targets[side]
                return run_script(url, GET_SCRIPT, target, seconds, settings.connections)

            for side in targets:
                load(side, settings.warmup)
            rounds: dict[str, list[LoadResult]] = {side: [] for side in targets}
            for round_ in range(settings.rounds):
                order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
                for side in order:
                    rounds[side].append(load(side, settings.seconds))
    finally:
        database.drop()
        s3.stop()
    for side, results in rounds.items():
        for n, result in enumerate(results, 1):
            notes.append(
                f"download, {side}, round {n}: {number(result.rps)} req/s, p99 "
                f"{result.p99_ms:.1f} ms; statuses {{{result.status_summary()}}}"
            )
    return _rows(rounds)


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


def gated_body(email: str, token: str) -> dict[str, object]:
    """A submission of the gating form: its answer carries a download link for `email`."""
    return {
        "fields": {"email": email, "first_name": "Ane"},
        "consents": {"processing": True},
        "token": token,
    }


def _download_paths(base: str, count: int) -> list[str]:
    """Real links, one per lead: submit the gating form with `count` addresses, then check
    each link answers with a redirect."""
    paths = []
    for n in range(count):
        token = requests.get(f"{base}/api/v1/forms/{FORM}", timeout=10).json()["token"]
        answer = requests.post(
            f"{base}/api/v1/forms/{FORM}/submissions",
            json=gated_body(f"bench{n}@bench.example", token),
            timeout=30,
        ).json()
        path = urlsplit(answer["download_url"]).path
        first = requests.get(f"{base}{path}", allow_redirects=False, timeout=30)
        if first.status_code != 302:
            raise RuntimeError(f"the download link answered {first.status_code}, not 302")
        paths.append(path)
    return paths


def _errors(load: LoadResult) -> int:
    return load.requests - load.count(302, 303) + load.socket_errors + load.timeouts


def _rows(rounds: dict[str, list[LoadResult]]) -> list[Row]:
    name = "download link: /d/<token> -> 302"
    durable = Paired(ours=rounds["ours"], bare=rounds["recorded"])
    asynchronous = Paired(ours=rounds["ours_async"], bare=rounds["recorded"])
    bare = Paired(ours=rounds["ours"], bare=rounds["redirect"])
    one_link = Paired(ours=rounds["ours_one_link"], bare=rounds["recorded"])
    rows = []
    for label, paired, bar in (
        (f"{name}, vs recorded redirect", durable, True),
        (f"{name}, async commit, vs recorded redirect", asynchronous, True),
        (f"{name}, vs bare redirect", bare, False),
        (f"{name}, one link only, vs recorded redirect", one_link, False),
    ):
        throughput, p99 = paired.ratio("rps"), paired.ratio("p99_ms")
        rows += [
            Row(
                f"{label}: throughput",
                f"{number(paired.median('ours', 'rps'))} req/s",
                f"{number(paired.median('bare', 'rps'))} req/s",
                f"{throughput:.2f}",
                f">= {THROUGHPUT_BAR}" if bar else "",
                verdict(throughput >= THROUGHPUT_BAR) if bar else "",
            ),
            Row(
                f"{label}: p99 latency",
                f"{paired.median('ours', 'p99_ms'):.1f} ms",
                f"{paired.median('bare', 'p99_ms'):.1f} ms",
                f"{p99:.2f}x",
                f"<= {P99_BAR:g}x" if bar else "",
                verdict(p99 <= P99_BAR) if bar else "",
            ),
        ]
    errors = {side: sum(map(_errors, results)) for side, results in rounds.items()}
    totals = {side: sum(r.requests for r in results) for side, results in rounds.items()}
    rows.append(
        Row(
            f"{name}: not a 302 (durable, async)",
            f"{errors['ours']} of {number(totals['ours'])}, "
            f"{errors['ours_async']} of {number(totals['ours_async'])}",
            f"{errors['recorded']} of {number(totals['recorded'])}",
            "",
            "0",
            verdict(errors["ours"] == errors["ours_async"] == errors["recorded"] == 0),
        )
    )
    return rows
