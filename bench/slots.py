"""Benchmarks of features other branches build: each keeps its place in the table.

A slot prints "not yet built" until its feature lands; then it gets a module of its own that
returns rows the same way (see `bench/submissions.py`, `bench/scale.py`), with the bar from the
quality bars. embed.js is measured by bench/embed_size.py, run here when present.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench import embed_page
from bench.table import NOT_YET_BUILT, Row, number, verdict

ROOT = Path(__file__).resolve().parent.parent
EMBED_SIZE = ROOT / "bench" / "embed_size.py"
EMBED_BAR = 3000


def _slot(what: str, bar: str) -> Row:
    print(f"{what}: {NOT_YET_BUILT}", flush=True)
    return Row(what, bar=bar, verdict=NOT_YET_BUILT)


def embed_size(notes: list[str]) -> list[Row]:
    """Bytes of embed.js as served, gzip -9; measured by bench/embed_size.py when present."""
    what, bar = "embed.js as served, gzip -9", "<= 3,000 bytes"
    if not EMBED_SIZE.exists():
        return [_slot(what, bar)]
    completed = subprocess.run(
        [sys.executable, "-m", "bench.embed_size"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    notes.extend(f"bench/embed_size.py: {line}" for line in completed.stdout.splitlines())
    size = re.search(r"gzip -9 (\d+) bytes", completed.stdout)
    if completed.returncode != 0 or size is None:
        notes.append(f"bench/embed_size.py failed: {completed.stderr.strip()[-300:]}")
        return [Row(what, "failed, see notes", bar=bar, verdict="failed")]
    packed = int(size.group(1))
    return [Row(what, f"{number(packed)} bytes", bar=bar, verdict=verdict(packed <= EMBED_BAR))]


def lead_list(notes: list[str]) -> list[Row]:
    """The back office lead list, filtered, with 1,000,000 leads: p95 server time."""
    return [_slot("lead list, 1,000,000 leads", "p95 <= 150 ms")]


SLOTS = (embed_size, embed_page.run, lead_list)
