"""Build the tracking script: minify embed/track.js into static/track.min.js and report its size.

The same minifier as the embed (embed/build.py), its own file and its own budget: sites that
do not track never load it. The build is committed with the sha256 of its source
(embed/track.min.js.sha256); `--check` (part of `make lint`) fails when they are not current.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

from build import minify  # embed/build.py, beside this file
from calmjs.parse.exceptions import ECMASyntaxError

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "track.js"
TARGET = HERE.parent / "static" / "track.min.js"
BUILT_FROM = HERE / "track.min.js.sha256"  # read by capture/tracking/script.py
BUDGET = 1000  # bytes after gzip -9


def main(argv: list[str]) -> int:
    source = SOURCE.read_text(encoding="utf-8")
    try:
        minified = minify(source)
    except ECMASyntaxError as exc:
        print(f"embed/track.js: {exc}", file=sys.stderr)
        return 1
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest() + "\n"
    packed = len(gzip.compress(minified.encode(), 9))
    if "--check" in argv:
        current = TARGET.exists() and TARGET.read_text(encoding="utf-8") == minified
        if not current or not BUILT_FROM.exists() or BUILT_FROM.read_text() != digest:
            print(
                "static/track.min.js is not the build of embed/track.js: "
                "run `make embed` and commit both files",
                file=sys.stderr,
            )
            return 1
        if packed > BUDGET:
            print(f"static/track.min.js is {packed} bytes gzip -9, over {BUDGET}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(minified, encoding="utf-8")
    BUILT_FROM.write_text(digest)
    verdict = "within" if packed <= BUDGET else "OVER"
    print(
        f"track.js: {len(source.encode())} bytes source -> {len(minified.encode())} bytes "
        f"minified, {packed} bytes gzip -9 ({verdict} the {BUDGET}-byte budget)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
