"""Gunicorn settings for Leadgate; `gunicorn` reads this file from the working directory.

Run `gunicorn` in the repository (or `gunicorn -c /path/to/gunicorn.conf.py`); the app is
`wsgi:create_app()`. The benchmarks start both Leadgate and their bare baseline with this file,
so they always compare like with like. Settings come from the environment:

- `WEB_CONCURRENCY`: worker processes; default `2 x cores + 1`, gunicorn's own advice.
- `GUNICORN_THREADS`: threads per worker; above 1 the workers become `gthread` (keep-alive,
  more requests in flight per process). Default 1: sync workers behind a buffering proxy.
- `PORT`: listen on `0.0.0.0:$PORT` (container platforms set it); unset, `127.0.0.1:8000`.
  `--bind` on the command line wins over both.
- `GUNICORN_TIMEOUT`: seconds a worker may spend on one request before it is killed (30).
- `GUNICORN_GRACEFUL_TIMEOUT`: seconds a worker has to finish its requests after SIGTERM (30).
- `ACCESS_LOG`: unset, no access log (the proxy in front keeps one); `-` for one JSON object
  per request on stdout, or a file path. Tokens in `/d/`, `/c/` and `/u/` paths are redacted.
- `FORWARDED_ALLOW_IPS`: the proxies whose `X-Forwarded-Proto` gunicorn believes, comma
  separated (default `127.0.0.1,::1`: a proxy on the same host). Set it to the address of your
  load balancer, never `*` on a node reachable without one. The client address is taken from
  `X-Forwarded-For` by the app itself, through `LEADGATE_PROXY_COUNT` (how many proxies append
  to it), not by gunicorn.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger

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

accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")

_SECRET_PATH = re.compile(r"^/([dcu])/[^/]+")


class JsonAccessLogger(Logger):
    """One JSON object per request, without query strings or the tokens in link paths."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        path = _SECRET_PATH.sub(r"/\1/[redacted]", environ.get("PATH_INFO", ""))
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": path,
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "pid": os.getpid(),
        }
        self.access_log.info(json.dumps(entry))


logger_class = JsonAccessLogger
