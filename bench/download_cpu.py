"""`python -m bench.download_cpu`: the CPU a download link costs, in-process, against the baseline.

wrk's req/s on a shared 2-core machine swing by 2x from one round to the next; CPU per request
does not. This serves `GET /d/<token>` (16 links of as many leads, S3 being moto in server
mode, scoring as in production) and the recorded-redirect baseline (`bench/baseline.py`,
`/recorded`) through their WSGI apps in this process, one request at a time on one database
connection each, alternating, and prints per request: the Python CPU of this process, the
CPU of the PostgreSQL backends serving it (from /proc, so on the same machine only), and the
Python function calls (a machine-independent count, under cProfile).

    python -m bench.download_cpu [--requests 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

from bench import baseline, downloads
from bench.database import BenchDatabase

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serve(app: WSGI, environs: list[dict[str, Any]], count: int) -> dict[str, int]:
    statuses: dict[str, int] = {}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    for n in range(count):
        environ = dict(environs[n % len(environs)])
        environ["wsgi.input"] = io.BytesIO(b"")
        body = app(environ, start_response)
        for _chunk in body:
            pass
        getattr(body, "close", lambda: None)()
    return statuses


def backend_cpu(engine: sa.Engine) -> float:
    """Seconds of CPU used so far by the other sessions of this database."""
    with engine.connect() as connection:
        pids = connection.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ).scalars()
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.download_cpu")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    database = BenchDatabase()
    env = {
        "DATABASE_URL": database.url_string,
        "BASELINE_DATABASE_URL": database.baseline_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SUPPRESSION_KEY": secrets.token_urlsafe(48),
        "LEADGATE_ENV": "production",
        "LEADGATE_ALLOW_CONSOLE_MAIL": "1",
        "LEADGATE_FORM_MIN_FILL_SECONDS": "0",
        "RATELIMIT_ENABLED": "0",
        "PUBLIC_BASE_URL": "https://leads.bench.example",
        "LOG_LEVEL": "warning",  # the access lines would go to this terminal
    }
    s3 = downloads.s3_for(env)
    try:
        database.create({**os.environ, **env})
        downloads._gated_magnet(database, {**os.environ, **env})
        os.environ.update(env)
        from wsgi import create_app

        ours = create_app()
        client = ours.test_client()
        paths = []
        for n in range(16):
            form = f"/api/v1/forms/{downloads.FORM}"
            token = client.get(form).get_json()["token"]
            body = downloads.gated_body(f"cpu{n}@bench.example", token)
            answer = client.post(f"{form}/submissions", json=body).get_json()
            paths.append(urlsplit(answer["download_url"]).path)
        bare = baseline.create_app()
        sides: dict[str, tuple[WSGI, list[dict[str, Any]]]] = {
            "recorded redirect (baseline)": (bare, [environ("/recorded")]),
            "download link /d/<token>": (ours, [environ(path) for path in paths]),
        }
        for app, environs in sides.values():
            serve(app, environs, 100)  # warm: caches, prepared statements
        for round_ in range(options.rounds):
            for name, (app, environs) in sides.items():
                before, started = backend_cpu(database.engine), time.process_time()
                statuses = serve(app, environs, options.requests)
                python = (time.process_time() - started) / options.requests
                postgres = (backend_cpu(database.engine) - before) / options.requests
                print(
                    f"round {round_ + 1}, {name}: Python {python * 1e3:.3f} ms, "
                    f"PostgreSQL {postgres * 1e3:.3f} ms per request {statuses}"
                )
        for name, (app, environs) in sides.items():
            profile = cProfile.Profile()
            profile.runcall(serve, app, environs, 500)
            calls = pstats.Stats(profile).total_calls / 500  # type: ignore[attr-defined]
            print(f"{name}: {calls:.0f} Python function calls per request")
    finally:
        database.drop()
        s3.stop()
    return 0


def environ(path: str) -> dict[str, Any]:
    builder = EnvironBuilder(
        path=path, base_url="http://127.0.0.1:8000", headers={"User-Agent": "bench"}
    )
    return builder.get_environ()


if __name__ == "__main__":
    raise SystemExit(main())
