"""Leads at scale, as bench/leads_at_scale.py measures them: export, lead lists, decay.

That script fills N leads (1,000,000 by default, the size the bars are set at) in a database
of its own, and prints one figure a line; here they become rows. With a smaller N (`--leads`,
`--quick`) the figures are shown as measured, at the size measured, the decay time also
projected linearly to 1,000,000, and no verdict is given: the bars are at 1,000,000.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.database import driver_url
from bench.table import NOT_YET_BUILT, Row, number, verdict

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "leads_at_scale.py"
AT_SCALE = 1_000_000
DECAY_BAR_S = 30.0
EXPORT_BAR_ROWS = 50_000
EXPORT_BAR_MB = 150.0
LIST_BAR_MS = 150.0
DECAY = re.compile(r"decay: (\d+) leads changed in ([\d.]+) s")
EXPORT = re.compile(r"export (csv|jsonl): ([\d,]+) rows/s \(([\d.]+) s\), peak RSS (\d+) MB")
LIST = re.compile(r"(lead list|api leads): (\d+) requests, p50 ([\d.]+) ms, p95 ([\d.]+) ms")
LISTS = {"lead list": "back office lead list, filtered", "api leads": "API lead list (cursor)"}


def run(count: int, database_url: str, notes: list[str]) -> list[Row]:
    """The figures for `count` leads, in a database of their own on the server at `database_url`."""
    size = f"{number(count)} leads"
    names = [
        f"lead export (csv), {size}",
        f"lead export (jsonl), {size}",
        *(f"{what}, {size}" for what in LISTS.values()),
        f"scoring decay, {size}",
    ]
    if not SCRIPT.exists():
        return [Row(name, verdict=NOT_YET_BUILT) for name in names]
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), str(count), driver_url(database_url).render_as_string(False)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    notes.extend(f"bench/leads_at_scale.py: {line}" for line in completed.stdout.splitlines())
    if completed.returncode != 0:
        notes.append(f"bench/leads_at_scale.py failed: {completed.stderr.strip()[-300:]}")
    out = completed.stdout
    rows = []

    def judged(passed: bool) -> str:
        # Below the bar's size a process's start-up (about 2 s) dominates: no verdict.
        return verdict(passed) if count >= AT_SCALE else f"bar is at {number(AT_SCALE)}"

    exports = {m.group(1): m for m in EXPORT.finditer(out)}
    for fmt, name in zip(("csv", "jsonl"), names, strict=False):
        found = exports.get(fmt)
        if found is None:
            rows.append(Row(name, "failed, see notes", verdict="failed"))
            continue
        rate, peak = int(found.group(2).replace(",", "")), float(found.group(4))
        rows.append(
            Row(
                name,
                f"{number(rate)} rows/s ({found.group(3)} s), peak RSS {peak:.0f} MB",
                bar=f">= {number(EXPORT_BAR_ROWS)} rows/s, <= {EXPORT_BAR_MB:g} MB",
                verdict=judged(rate >= EXPORT_BAR_ROWS and peak <= EXPORT_BAR_MB),
            )
        )
    lists = {m.group(1): m for m in LIST.finditer(out)}
    for key, name in zip(LISTS, names[2:4], strict=True):
        found = lists.get(key)
        if found is None:
            rows.append(Row(name, "failed, see notes", verdict="failed"))
            continue
        p50, p95 = float(found.group(3)), float(found.group(4))
        rows.append(
            Row(
                name,
                f"p50 {p50:.0f} ms, p95 {p95:.0f} ms ({found.group(2)} requests, in-process)",
                bar=f"p95 <= {LIST_BAR_MS:g} ms",
                verdict=judged(p95 <= LIST_BAR_MS),
            )
        )
    decay = DECAY.search(out)
    if decay:
        seconds = float(decay.group(2))
        projected = seconds * AT_SCALE / count
        rows.append(
            Row(
                names[-1],
                f"{seconds:.1f} s ({number(count / seconds)} leads/s)",
                ratio=f"1M: {projected:.0f} s" if count != AT_SCALE else "",
                bar=f"<= {DECAY_BAR_S:g} s at 1M",
                verdict=judged(projected <= DECAY_BAR_S),
            )
        )
    else:
        rows.append(Row(names[-1], "failed, see notes", verdict="failed"))
    return rows
