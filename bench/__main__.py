"""`bench/run [--quick]`: run the benchmarks and print one table, with the machine they ran on.

Figures are ratios against bare baselines measured in the same run (see docs' quality bars);
a missed bar is printed, never raised: benchmarks do not fail a build.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import gunicorn
import sqlalchemy as sa

from bench import downloads, load, scale, slots, submissions
from bench.database import DEFAULT_SERVER, driver_url
from bench.table import Row, render

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("submissions", "downloads", "scale", "embed")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def postgres_version(url: str) -> str:
    engine = sa.create_engine(driver_url(url))
    try:
        with engine.connect() as connection:
            version = connection.execute(sa.text("SHOW server_version")).scalar_one()
        return f"PostgreSQL {version.split()[0]}"
    except sa.exc.SQLAlchemyError as exc:
        return f"PostgreSQL unreachable ({type(exc).__name__})"
    finally:
        engine.dispose()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20-second smoke run")
    parser.add_argument("--seconds", type=float, help="length of each measurement (default 8)")
    parser.add_argument("--rounds", type=int, help="baseline/ours pairs per mix (default 3)")
    parser.add_argument(
        "--leads",
        type=int,
        help="leads for the export, list and decay figures (default 1,000,000, where the bars are; "
        "--quick: 20,000)",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1),
        help="gunicorn workers for both apps (default: WEB_CONCURRENCY or 2 x cores + 1)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
        help="PostgreSQL server to create the run's database on",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="run only these parts (default: all)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    settings = submissions.Settings(
        seconds=options.seconds or (2 if options.quick else 8),
        warmup=1 if options.quick else 3,
        rounds=options.rounds or (1 if options.quick else 3),
        connections=options.connections,
        workers=options.workers,
        database_url=options.database_url,
    )
    RESULTS.mkdir(exist_ok=True)
    started = time.monotonic()
    try:
        generator = load.describe()
    except load.LoadGeneratorMissing as exc:
        generator = f"missing: {exc}"
    header = [
        f"Leadgate benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        + (" (--quick smoke run)" if options.quick else ""),
        f"machine: {os.cpu_count()} cores (nproc), {cpu_model()}, load average "
        f"{os.getloadavg()[0]:.1f} at start; shared machine, so figures are noisy",
        f"load generator: {generator}, a Lua script builds each JSON body (fresh e-mail, own "
        f"Idempotency-Key, Origin of an allowed partner site); duplicate-heavy: 10% of posts "
        f"reuse an earlier e-mail, 5% resend an earlier request with its key; "
        f"{settings.connections} connections; {settings.rounds} rounds of {settings.seconds:g} s "
        f"each, baseline and ours back to back in alternating order, medians of rounds shown",
        f"servers: gunicorn {gunicorn.__version__} with gunicorn.conf.py, {settings.workers} "
        f"sync workers each; {postgres_version(options.database_url)} on loopback; "
        f"Python {platform.python_version()}",
        "",
    ]
    print("\n".join(header), flush=True)

    rows: list[Row] = []
    notes: list[str] = []
    with (RESULTS / "servers.log").open("w") as log:
        try:
            if "submissions" in options.only:
                rows += submissions.run(settings, log, notes)
        except Exception as exc:
            traceback.print_exc()
            rows.append(Row("submissions", f"failed: {type(exc).__name__}: {exc}"[:120]))
        try:
            if "downloads" in options.only:
                rows += downloads.run(settings, log, notes)
        except Exception as exc:
            traceback.print_exc()
            rows.append(Row("download link", f"failed: {type(exc).__name__}: {exc}"[:120]))
    leads = options.leads or (20_000 if options.quick else 1_000_000)
    try:
        if "scale" in options.only:
            rows += scale.run(leads, options.database_url, notes)
    except Exception as exc:
        traceback.print_exc()
        rows.append(Row("leads at scale", f"failed: {type(exc).__name__}"[:120]))
    for slot in slots.SLOTS if "embed" in options.only else ():
        rows += slot(notes)

    report = "\n".join(
        [
            *header,
            render(rows),
            "",
            *(f"- {note}" for note in notes),
            f"- total time {time.monotonic() - started:.0f} s; server logs in bench/results/",
        ]
    )
    print("\n" + "\n".join(report.splitlines()[len(header) :]))
    (RESULTS / "latest.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
