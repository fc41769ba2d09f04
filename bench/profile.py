"""`python -m bench.profile`: where a gunicorn worker spends its time on the submission path
(`--downloads`: on download links, `GET /d/<token>` to its 302, S3 being moto in server mode).

Starts Leadgate under gunicorn with one worker on a database made for the run, loads it with
the benchmark's wrk script, samples the worker with py-spy (`pip install py-spy`), and prints
the functions with the most samples, inclusive and self. The raw samples go to
bench/results/profile.txt.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from bench import downloads, statements
from bench.database import BenchDatabase
from bench.load import FRESH, GET_SCRIPT, LoadResult, run_script, run_wrk
from bench.server import Gunicorn, bench_env
from bench.submissions import FORM, OURS_PATH

RESULTS = Path(__file__).resolve().parent / "results"


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def summarise(collapsed: Path, top: int) -> str:
    """Inclusive and self sample counts per function from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            # py-spy writes a frame's name as its repr, which can span lines (a proxy's
            # "Working outside of request context" error): that sample is dropped.
            continue
        count = int(count_text)
        frames = [frame.split(" (", 1)[0] + " " + _where(frame) for frame in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"\n{title}:")
        lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in counter.most_common(top)]
    return "\n".join(lines)


def _where(frame: str) -> str:
    if " (" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")")
    path, _, _line = location.rpartition(":")
    parts = Path(path).parts
    short = "/".join(
        parts[parts.index("site-packages") + 1 :] if "site-packages" in parts else parts[-2:]
    )
    return f"({short})"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--gil",
        action="store_true",
        help="only samples holding the GIL: Python's CPU time, without waits on PostgreSQL",
    )
    parser.add_argument(
        "--native",
        action="store_true",
        help="sample C frames too (psycopg's, libpq's): slower, the worker is paused per sample",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print the SQL each hot path sends (in-process, no py-spy needed) and stop",
    )
    parser.add_argument(
        "--downloads",
        action="store_true",
        help="profile download links (GET /d/<token> -> 302, S3 in moto) instead of submissions",
    )
    options = parser.parse_args()
    if options.statements:
        print(statements.run())
        return 0
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 1
    RESULTS.mkdir(exist_ok=True)
    database = BenchDatabase()
    env = bench_env(database, 1)
    s3 = downloads.s3_for(env) if options.downloads else None
    try:
        with (
            (RESULTS / "profile-server.log").open("w") as log,
            Gunicorn("wsgi:create_app()", env, log) as started,
        ):
            database.create(env)
            if options.downloads:
                downloads._gated_magnet(database, env)
            server = started.wait()
            if options.downloads:
                paths = downloads._download_paths(server.url, downloads.LINKS)

                def load(run: str, seconds: float) -> LoadResult:
                    return run_script(server.url, GET_SCRIPT, paths, seconds, options.connections)

            else:
                token = requests.get(f"{server.url}/api/v1/forms/{FORM}", timeout=10).json()
                token = token["token"]

                def load(run: str, seconds: float) -> LoadResult:
                    return run_wrk(
                        server.url, OURS_PATH, token, run, FRESH, seconds, options.connections
                    )

            load("warm", 2)
            assert server.process is not None
            (worker,) = worker_pids(server.process.pid)
            collapsed = RESULTS / "profile.txt"
            record = [py_spy, "record", "--pid", str(worker), "--duration"]
            record += [str(round(options.seconds)), "--rate", "250"]
            # Native frames need the worker paused while sampled; Python ones do not.
            record += ["--native"] if options.native else ["--nonblocking"]
            record += ["--gil"] if options.gil else []
            spy = threading.Thread(
                target=subprocess.run,
                args=([*record, "--format", "raw", "--output", str(collapsed)],),
                kwargs={"capture_output": True, "check": True},
            )
            spy.start()
            time.sleep(1)
            result = load("prof", options.seconds)
            spy.join()
            print(f"{result.rps:.0f} req/s under py-spy, p50 {result.p50_ms:.1f} ms")
            print(summarise(collapsed, options.top))
    finally:
        database.drop()
        if s3 is not None:
            s3.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
