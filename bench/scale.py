"""Scoring decay and lead export at scale, as bench/leads_at_scale.py measures them.

That script fills N leads in a private schema, times one decay pass and a CSV export through
`leadgate leads export`, and prints the figures; here they become rows. The bars are set at
1,000,000 leads; a smaller N (the default keeps a run to a few minutes) shows the decay time
projected linearly to 1,000,000, and export speed and memory, which do not depend on N.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.database import driver_url
from bench.table import Row, number, verdict

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "leads_at_scale.py"
AT_SCALE = 1_000_000
DECAY_BAR_S = 30.0
EXPORT_BAR_ROWS = 50_000
EXPORT_BAR_MB = 150.0
DECAY = re.compile(r"decay: (\d+) leads changed in ([\d.]+) s")
EXPORT = re.compile(r"export csv: ([\d,]+) rows/s, peak RSS (\d+) MB")


def run(count: int, database_url: str, notes: list[str]) -> list[Row]:
    """The figures for `count` leads, in a private schema of the database at `database_url`."""
    decay_what = f"scoring decay, {number(count)} leads"
    export_what = f"lead export (csv), {number(count)} leads"
    if not SCRIPT.exists():
        return [Row(decay_what, verdict="not yet built"), Row(export_what, verdict="not yet built")]
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
    rows = []
    decay = DECAY.search(completed.stdout)
    if decay:
        seconds = float(decay.group(2))
        projected = seconds * AT_SCALE / count
        rows.append(
            Row(
                decay_what,
                f"{seconds:.1f} s ({number(count / seconds)} leads/s)",
                "",
                f"1M: {projected:.0f} s" if count != AT_SCALE else "",
                f"<= {DECAY_BAR_S:g} s at 1M",
                verdict(projected <= DECAY_BAR_S),
            )
        )
    else:
        rows.append(Row(decay_what, "failed, see notes", verdict="failed"))
    export = EXPORT.search(completed.stdout)
    if export:
        rate, peak = int(export.group(1).replace(",", "")), float(export.group(2))
        rows.append(
            Row(
                export_what,
                f"{number(rate)} rows/s, peak RSS {peak:.0f} MB",
                "",
                "",
                f">= {number(EXPORT_BAR_ROWS)} rows/s, <= {EXPORT_BAR_MB:g} MB",
                verdict(rate >= EXPORT_BAR_ROWS and peak <= EXPORT_BAR_MB),
            )
        )
    else:
        rows.append(Row(export_what, "failed, see notes", verdict="failed"))
    return rows
