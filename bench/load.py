"""The load generator: wrk with a Lua script that builds a fresh submission for every request."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("submissions.lua")
GET_SCRIPT = Path(__file__).with_name("get.lua")
WRK = "/usr/bin/wrk"


class LoadGeneratorMissing(RuntimeError):
    pass


def wrk_path() -> str:
    path = shutil.which("wrk") or (WRK if Path(WRK).exists() else None)
    if path is None:
        raise LoadGeneratorMissing("wrk is not installed (Debian: apt-get install wrk)")
    return path


def describe() -> str:
    version = subprocess.run([wrk_path(), "--version"], capture_output=True, text=True).stdout
    return version.split(" [", 1)[0].strip() or "wrk"


@dataclass(frozen=True)
class Mix:
    """What share of posts reuse an earlier e-mail, and what share resend an earlier request."""

    name: str
    reuse_email: float = 0.0
    reuse_key: float = 0.0


FRESH = Mix("fresh")
DUPLICATE_HEAVY = Mix("duplicate-heavy", reuse_email=0.10, reuse_key=0.05)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    replayed: int
    socket_errors: int
    timeouts: int
    output: str = field(repr=False, default="")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def succeeded(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    def count(self, low: int, high: int) -> int:
        return sum(n for status, n in self.statuses.items() if low <= status < high)

    @property
    def errors(self) -> int:
        """Every request that did not get a 2xx: bad statuses, socket errors and timeouts."""
        return self.requests - self.succeeded + self.socket_errors + self.timeouts

    def status_summary(self) -> str:
        return ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))


def run_wrk(
    base_url: str,
    path: str,
    token: str,
    run: str,
    mix: Mix,
    seconds: float,
    connections: int,
) -> LoadResult:
    """Post submissions for `seconds` over `connections` connections; raise if wrk fails."""
    arguments = [path, token, run, str(mix.reuse_email), str(mix.reuse_key)]
    return run_script(base_url, SCRIPT, arguments, seconds, connections)


def run_script(
    base_url: str,
    script: Path,
    arguments: list[str],
    seconds: float,
    connections: int,
    threads: int = 2,
) -> LoadResult:
    """Run wrk with one of our Lua scripts (they end by printing BENCH_RESULT)."""
    command = [
        wrk_path(),
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={script}",
        base_url,
        "--",
        *arguments,
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next(
        (ln for ln in completed.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None
    )
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    data = json.loads(line.removeprefix("BENCH_RESULT "))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        statuses={int(status): count for status, count in data["statuses"].items()},
        replayed=data["replayed"],
        socket_errors=data["connect"] + data["read"] + data["write"],
        timeouts=data["timeout"],
        output=completed.stdout,
    )
