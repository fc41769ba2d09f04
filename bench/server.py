"""An app under gunicorn, started with the repository's gunicorn.conf.py on a free loopback port."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from bench.database import BenchDatabase

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """`with Gunicorn("wsgi:create_app()", env, log) as server:` starts it; `server.wait()`
    returns once it answers, so several servers (and the database) can get ready at once."""

    def __init__(self, app: str, env: dict[str, str], log: IO[str], ready_path: str = "/healthz"):
        self.app = app
        self.env = env
        self.log = log
        self.ready_path = ready_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Gunicorn:
        command = [sys.executable, "-m", "gunicorn", "--config", str(CONFIG)]
        command += ["--bind", f"127.0.0.1:{self.port}", self.app]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )
        return self

    def wait(self) -> Gunicorn:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn for {self.app} exited with {self.process.returncode}")
            try:
                if requests.get(self.url + self.ready_path, timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn for {self.app} did not answer within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_env(**overrides: str) -> dict[str, str]:
    """The environment for both servers: ours plus `overrides`; never a PORT or extra flags."""
    env = dict(os.environ)
    env.pop("PORT", None)
    env.pop("GUNICORN_CMD_ARGS", None)
    env.update(overrides)
    return env


def bench_env(database: BenchDatabase, workers: int) -> dict[str, str]:
    """Both servers' environment in every benchmark: production mode on the run's database,
    fresh keys, no mail server, and neither the fill-time minimum nor the rate limits (the load
    comes from one address, faster than a person types)."""
    return server_env(
        DATABASE_URL=database.url_string,
        BASELINE_DATABASE_URL=database.baseline_url,
        SECRET_KEY=secrets.token_urlsafe(48),
        SUPPRESSION_KEY=secrets.token_urlsafe(48),
        LEADGATE_ENV="production",
        LEADGATE_ALLOW_CONSOLE_MAIL="1",  # no mail server in the bench
        PUBLIC_BASE_URL="https://leads.bench.example",
        LEADGATE_FORM_MIN_FILL_SECONDS="0",
        RATELIMIT_ENABLED="0",
        WEB_CONCURRENCY=str(workers),
    )
