"""Build the tracking script: minify embed/track.js into static/track.min.js and report its size.

The same minifier as the embed (embed/build.py), its own file and its own budget: sites that
do not track never load it. The build is committed with the sha256 of its source
(embed/track.min.js.sha256); `--check` (part of `make lint`) fails when they are not current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from build import build  # embed/build.py, beside this file

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "track.js"
TARGET = HERE.parent / "static" / "track.min.js"
BUILT_FROM = HERE / "track.min.js.sha256"  # read by capture/tracking/script.py
BUDGET = 1000  # bytes after gzip -9


def main(argv: list[str]) -> int:
    return build(SOURCE, TARGET, BUILT_FROM, BUDGET, argv, enforce_budget=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
