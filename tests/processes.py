"""Real processes that fault tests break on purpose: a private PostgreSQL and gunicorn.

The shared PostgreSQL is never stopped or reconfigured; a test that needs to stop a database
starts its own cluster here, from Debian's server binaries, in a temporary directory on a free
loopback port. As root (initdb refuses root) the cluster runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from helpers import free_port

ROOT = Path(__file__).resolve().parent.parent


class ServiceMissing(RuntimeError):
    """What the machine lacks to run the test, in words for a skip or failure message."""


def postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    found = candidates[-1] if candidates else shutil.which("initdb")
    if not found or not Path(found).with_name("pg_ctl").exists():
        raise ServiceMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    return Path(found).parent


def _version(path: str) -> tuple[int, ...]:
    digits = Path(path).parent.parent.name
    return tuple(int(part) for part in digits.split(".") if part.isdigit())


class PrivatePostgres:
    """A cluster of the test's own: `start()`, `stop()` and `start()` again at will."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceMissing("running as root and there is no `postgres` user") from None
        self.dir = Path(tempfile.mkdtemp(prefix="leadgate-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if self.owner:
            os.chown(self.dir, self.owner.pw_uid, self.owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / program), *args]
        if self.owner:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.dir
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        # fsync off: only this process is ever killed, never the machine, so the page cache
        # keeps every commit; synchronous_commit stays on, so a commit means written.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
            " -c fsync=off -c max_connections=100"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session and checkpoints: what a restart by an operator does."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class GunicornServer:
    """Leadgate under gunicorn with the repository's gunicorn.conf.py, on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env = {k: v for k, v in os.environ.items() if k not in {"PORT", "GUNICORN_CMD_ARGS"}}
        self.env.update(env)
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
        command += ["--bind", f"127.0.0.1:{self.port}", "wsgi:create_app()"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self.tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within 90 s: {self.tail()}")

    def workers(self) -> list[int]:
        """Process ids of the workers: the master's children, read from /proc."""
        assert self.process is not None
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
