"""Gunicorn settings for Leadgate: `gunicorn -c python:leadgate_gunicorn`, from any directory.

Installed with the package (a module, so no path to know); in a checkout, `gunicorn` alone reads
./gunicorn.conf.py, which imports this. The app is `wsgi:create_app()`. The benchmarks start
both Leadgate and their bare baseline with these settings, so they always compare like with like.
Settings come from the environment:

- `WEB_CONCURRENCY`: worker processes; default `2 x cores + 1`, gunicorn's own advice.
- `GUNICORN_THREADS`: threads per worker; above 1 the workers become `gthread` (keep-alive,
  more requests in flight per process). Default 1: sync workers behind a buffering proxy.
- `PORT`: listen on `0.0.0.0:$PORT` (container platforms set it); unset, `127.0.0.1:8000`.
  `--bind` on the command line wins over both.
- `GUNICORN_TIMEOUT`: seconds a worker may spend on one request before it is killed (30).
- `GUNICORN_GRACEFUL_TIMEOUT`: seconds a worker has to finish its requests after SIGTERM (30).
- `LOG_FORMAT`, `LOG_LEVEL`: as for the app (`json` by default when `LEADGATE_ENV=production`);
  gunicorn's own lines (boot, worker timeouts) use the same format on stderr. gunicorn writes
  no access log: the app logs one line per request itself, with its request id.
- `PROMETHEUS_MULTIPROC_DIR`: a directory (tmpfs is best) where the workers write their
  metrics, so `/metrics` adds all of them up; emptied at start, a dead worker's gauges dropped.
- `FORWARDED_ALLOW_IPS`: the proxies whose `X-Forwarded-Proto` gunicorn believes, comma
  separated (default `127.0.0.1,::1`: a proxy on the same host). Set it to the address of your
  load balancer, never `*` on a node reachable without one. The client address is taken from
  `X-Forwarded-For` by the app itself, through `LEADGATE_PROXY_COUNT` (how many proxies append
  to it), not by gunicorn.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger
from prometheus_client import multiprocess
from pythonjsonlogger.json import JsonFormatter

wsgi_app = "wsgi:create_app()"

workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)

_port = os.environ.get("PORT")
# All interfaces only when a platform hands us a port to listen on, as gunicorn does itself.
bind = [f"0.0.0.0:{_port}"] if _port else ["127.0.0.1:8000"]

timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 30)
keepalive = 5
# Heartbeat files on tmpfs: a worker blocked on a slow disk is not taken for a hung one.
# gunicorn creates them itself, unlinked and with unique names, so a shared directory is safe.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  # nosec B108

forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# None: the app writes one access line per request (capture.ops.logs); gunicorn's would double it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

_production = os.environ.get("LEADGATE_ENV") == "production"
_log_format = (os.environ.get("LOG_FORMAT") or ("json" if _production else "text")).lower()


class LeadgateLogger(Logger):
    """gunicorn's own lines in the app's format, so a collector parses every stderr line."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if _log_format == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(
                    JsonFormatter(
                        "%(levelname)s %(name)s %(message)s",
                        rename_fields={"levelname": "level", "name": "logger"},
                        timestamp="time",
                    )
                )


logger_class = LeadgateLogger


def on_starting(server: Any) -> None:
    """Counters from an earlier run would be added to this one's: start from an empty dir."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges must not linger; its counters are kept (they happened)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
