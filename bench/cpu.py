"""`python -m bench.cpu`: CPU time per submission, in the app's workers and in PostgreSQL.

Throughput ratios need a quiet machine; CPU seconds per request hardly move when other jobs
share it, so this is the figure to compare changes by while working. Both servers run as in
`bench/run` (same gunicorn settings, one database); each side is loaded in turn with wrk, and
the CPU time (user + system, from /proc) of its gunicorn workers and of every PostgreSQL process
is divided by the requests answered. On 2 cores, throughput is roughly 2 s / (app + database)
per request when both are busy, so the ratio of totals predicts the throughput ratio. The
sides alternate for `--rounds` rounds (the machine's own speed drifts): compare the median.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.database import BenchDatabase
from bench.load import DUPLICATE_HEAVY, FRESH, Mix, run_wrk
from bench.server import Gunicorn, bench_env
from bench.submissions import BASELINE_PATH, FORM, OURS_PATH

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _children(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _backends(database: str) -> list[int]:
    """PostgreSQL backends serving `database` (their title names it): other jobs' backends,
    and the server's shared processes, are left out."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            pids.append(int(cmdline.parent.name))
    return pids


def _snapshot(master: int, database: str) -> tuple[float, dict[int, float]]:
    app = sum(_cpu_seconds(pid) for pid in _children(master))
    return app, {pid: _cpu_seconds(pid) for pid in _backends(database)}


@dataclass
class Cost:
    requests: int
    app_ms: float
    db_ms: float

    @property
    def total_ms(self) -> float:
        return self.app_ms + self.db_ms


def measure(
    server: Gunicorn,
    database: str,
    path: str,
    token: str,
    mix: Mix,
    seconds: float,
    connections: int,
) -> Cost:
    assert server.process is not None
    master = server.process.pid
    app_before, db_before = _snapshot(master, database)
    load = run_wrk(server.url, path, token, secrets.token_hex(3), mix, seconds, connections)
    app_after, db_after = _snapshot(master, database)
    db = sum(after - db_before.get(pid, 0.0) for pid, after in db_after.items())
    done = max(load.succeeded, 1)
    return Cost(done, 1000 * (app_after - app_before) / done, 1000 * db / done)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duplicates", action="store_true", help="the duplicate-heavy mix")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of both sides")
    options = parser.parse_args()
    mix = DUPLICATE_HEAVY if options.duplicates else FRESH
    database = BenchDatabase()
    env = bench_env(database, options.workers)
    log_path = Path(__file__).resolve().parent / "results" / "cpu-server.log"
    log_path.parent.mkdir(exist_ok=True)
    try:
        with (
            log_path.open("w") as log,
            Gunicorn("wsgi:create_app()", env, log) as ours,
            Gunicorn("bench.baseline:create_app()", env, log) as bare,
        ):
            database.create(env)
            ours.wait()
            bare.wait()
            token = requests.get(f"{ours.url}/api/v1/forms/{FORM}", timeout=10).json()["token"]
            for server, path in ((ours, OURS_PATH), (bare, BASELINE_PATH)):
                measure(server, database.name, path, token, mix, 2, options.connections)
            sides = (("ours", ours, OURS_PATH), ("bare", bare, BASELINE_PATH))
            rounds: list[dict[str, Cost]] = []
            for n in range(options.rounds):
                # Alternating order: the machine's speed drifts within a minute.
                ordered = sides if n % 2 == 0 else sides[::-1]
                rounds.append(
                    {
                        side: measure(
                            server,
                            database.name,
                            path,
                            token,
                            mix,
                            options.seconds,
                            options.connections,
                        )
                        for side, server, path in ordered
                    }
                )
    finally:
        database.drop()
    print(f"CPU per request ({mix.name}, {options.workers} workers, {options.connections} conns)")
    ratios = []
    for costs in rounds:
        for side in ("ours", "bare"):
            cost = costs[side]
            print(
                f"  {side}: app {cost.app_ms:.2f} ms + database {cost.db_ms:.2f} ms"
                f" = {cost.total_ms:.2f} ms ({cost.requests} requests)"
            )
        ratios.append(costs["bare"].total_ms / costs["ours"].total_ms)
        print(f"  predicted throughput ratio (bare total / ours total): {ratios[-1]:.2f}")
    if len(ratios) > 1:
        print(f"median of {len(ratios)} rounds: {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
