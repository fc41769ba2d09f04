"""Submission throughput and latency against the bare baseline, fresh and duplicate-heavy.

Both apps run at once under gunicorn with the same settings (only one is loaded at a time), on
one database made for the run: Leadgate's migrated tables, the baseline's table in its own
schema. Each phase starts from empty tables, so the database can be checked afterwards: every
acknowledged submission stored whole, and exactly one lead per e-mail.
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import dataclass, field
from typing import IO

import requests

from bench.database import BenchDatabase, Integrity
from bench.load import DUPLICATE_HEAVY, FRESH, LoadResult, Mix, run_wrk
from bench.server import Gunicorn, bench_env
from bench.table import Row, number, verdict

FORM = "bench-ebook"
OURS_PATH = f"/api/v1/forms/{FORM}/submissions"
BASELINE_PATH = "/submissions"
THROUGHPUT_BAR = 0.5
P99_BAR = 2.0


@dataclass
class Settings:
    seconds: float
    warmup: float
    connections: int
    workers: int
    rounds: int = 3
    database_url: str | None = None


@dataclass
class Paired:
    """Rounds of baseline and ours measured back to back, in alternating order, so the load
    other people put on a shared machine falls on both alike; figures are medians of rounds."""

    ours: list[LoadResult] = field(default_factory=list)
    bare: list[LoadResult] = field(default_factory=list)
    stored: Integrity | None = None

    def median(self, side: str, figure: str) -> float:
        return statistics.median(getattr(r, figure) for r in getattr(self, side))

    def ratio(self, figure: str) -> float:
        """Median over rounds of ours / baseline."""
        pairs = zip(self.ours, self.bare, strict=True)
        return statistics.median(
            getattr(a, figure) / getattr(b, figure) if getattr(b, figure) else float("inf")
            for a, b in pairs
        )

    def total(self, side: str, figure: str) -> int:
        return sum(getattr(r, figure) for r in getattr(self, side))


def run(settings: Settings, log: IO[str], notes: list[str]) -> list[Row]:
    database = BenchDatabase(settings.database_url)
    env = bench_env(database, settings.workers)
    rows: list[Row] = []
    try:
        with (
            Gunicorn("wsgi:create_app()", env, log) as ours,
            Gunicorn("bench.baseline:create_app()", env, log) as bare,
        ):
            database.create(env)  # while the workers boot
            ours.wait()
            bare.wait()
            token = requests.get(f"{ours.url}/api/v1/forms/{FORM}", timeout=10).json()["token"]
            targets = {"ours": (ours.url, OURS_PATH), "bare": (bare.url, BASELINE_PATH)}
            for mix in (FRESH, DUPLICATE_HEAVY):
                paired = _measure(database, targets, token, mix, settings)
                rows += _rows(mix, paired, settings.connections)
                notes += _notes(mix, paired)
    finally:
        database.drop()
    return rows


def _measure(
    database: BenchDatabase,
    targets: dict[str, tuple[str, str]],
    token: str,
    mix: Mix,
    settings: Settings,
) -> Paired:
    def load(side: str, seconds: float, run_id: str) -> LoadResult:
        url, path = targets[side]
        return run_wrk(url, path, token, run_id, mix, seconds, settings.connections)

    for side in targets:
        load(side, settings.warmup, f"w{secrets.token_hex(3)}")
    database.empty()
    paired = Paired()
    for round_ in range(settings.rounds):
        for side in ("bare", "ours") if round_ % 2 == 0 else ("ours", "bare"):
            getattr(paired, side).append(load(side, settings.seconds, secrets.token_hex(3)))
    paired.stored = database.integrity()
    return paired


def _rows(mix: Mix, paired: Paired, connections: int) -> list[Row]:
    throughput, p99 = paired.ratio("rps"), paired.ratio("p99_ms")
    name = f"submit ({mix.name})"
    errors = paired.total("ours", "errors"), paired.total("bare", "errors")
    requests_ = paired.total("ours", "requests"), paired.total("bare", "requests")
    rows = [
        Row(
            f"{name}: throughput",
            f"{number(paired.median('ours', 'rps'))} req/s",
            f"{number(paired.median('bare', 'rps'))} req/s",
            f"{throughput:.2f}",
            f">= {THROUGHPUT_BAR}",
            verdict(throughput >= THROUGHPUT_BAR),
        ),
        Row(
            f"{name}: p50 latency",
            f"{paired.median('ours', 'p50_ms'):.1f} ms",
            f"{paired.median('bare', 'p50_ms'):.1f} ms",
            f"{paired.ratio('p50_ms'):.2f}x",
        ),
        Row(
            f"{name}: p99 latency",
            f"{paired.median('ours', 'p99_ms'):.1f} ms",
            f"{paired.median('bare', 'p99_ms'):.1f} ms",
            f"{p99:.2f}x",
            f"<= {P99_BAR:g}x",
            verdict(p99 <= P99_BAR),
        ),
        Row(
            f"{name}: errors",
            f"{errors[0]} of {number(requests_[0])}",
            f"{errors[1]} of {number(requests_[1])}",
            "",
            "0",
            verdict(errors == (0, 0)),
        ),
    ]
    stored = paired.stored
    assert stored is not None
    acked = paired.total("ours", "succeeded") - paired.total("ours", "replayed")
    bare_acked = paired.total("bare", "succeeded")
    # At each deadline wrk gives up on one request per connection; those may still be stored.
    cut = len(paired.ours) * connections
    whole = acked <= stored.accepted <= acked + cut and not stored.half_written
    rows.append(
        Row(
            f"{name}: 2xx -> stored",
            f"{number(acked)} -> {number(stored.accepted)}, {stored.half_written} half-written",
            f"{number(bare_acked)} -> {number(stored.baseline_rows)}",
            "",
            "all stored, 0 half-written",
            verdict(whole and not stored.quarantined and stored.baseline_rows >= bare_acked),
        )
    )
    if mix.reuse_email or mix.reuse_key:
        rows.append(
            Row(
                f"{name}: leads per e-mail",
                f"{number(stored.leads)} leads for {number(stored.distinct_emails)} e-mails",
                "",
                "",
                "exactly 1",
                verdict(stored.one_lead_per_email),
            )
        )
    return rows


def _notes(mix: Mix, paired: Paired) -> list[str]:
    lines = []
    for side, label in (("ours", "ours"), ("bare", "baseline")):
        for n, load in enumerate(getattr(paired, side), 1):
            lines.append(
                f"{mix.name}, {label}, round {n}: {number(load.rps)} req/s, p50 "
                f"{load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms, max {load.max_ms:.0f} ms; "
                f"statuses {{{load.status_summary()}}}, {load.replayed} idempotent replays, "
                f"{load.socket_errors} socket errors, {load.timeouts} timeouts"
            )
    stored = paired.stored
    assert stored is not None
    lines.append(
        f"{mix.name}, ours stored: {stored.accepted} accepted, {stored.quarantined} quarantined, "
        f"{stored.leads} leads, {stored.distinct_emails} distinct e-mails"
    )
    return lines
