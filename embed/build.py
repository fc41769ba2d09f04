"""Build the embed script: minify embed/embed.js into static/embed.min.js and report its size.

calmjs.parse reads the source as ES5 (so the source must stay ES5), renames local names and
drops whitespace and comments; the result is parsed again, so a build never ships a script
that does not parse. Run by `make embed` (part of `make test`, `make demo` and CI).

The build is committed, with the sha256 of the source it came from (embed/embed.min.js.sha256),
so every install has it without calmjs.parse. `--check` (part of `make lint`) rebuilds in memory
and fails when the committed files are not exactly what this source builds.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sys
from pathlib import Path

from calmjs.parse import asttypes, es5
from calmjs.parse.exceptions import ECMASyntaxError
from calmjs.parse.unparsers.es5 import minify_print

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "embed.js"
TARGET = HERE.parent / "static" / "embed.min.js"
BUILT_FROM = HERE / "embed.min.js.sha256"  # read by capture/web/embed.py: is the build current?
BUDGET = 3000  # bytes after gzip -9, the quality bar


def _merge_vars(statements: list) -> list:
    """`var a = 1; var b = 2;` becomes `var a = 1, b = 2;`: the same program, fewer bytes."""
    merged: list = []
    for statement in statements:
        if (
            merged
            and isinstance(statement, asttypes.VarStatement)
            and isinstance(merged[-1], asttypes.VarStatement)
        ):
            merged[-1]._children_list.extend(statement._children_list)
        else:
            merged.append(statement)
    return merged


def _short_number(text: str) -> str:
    if text.isdigit() and len(text) > 3 and text.rstrip("0") != text:
        digits = text.rstrip("0")
        return f"{digits}e{len(text) - len(digits)}"
    if text.startswith("0.") and len(text) > 2:
        return text[1:]
    return text


def fold(node: asttypes.Node) -> asttypes.Node:
    """Join `"a" + "b"` into `"ab"`, merge `var` runs and write booleans as `!0`/`!1`, which
    calmjs leaves as written."""
    for key, value in vars(node).items():
        if isinstance(value, asttypes.Node):
            setattr(node, key, fold(value))
        elif isinstance(value, list):
            value[:] = _merge_vars(
                [fold(item) if isinstance(item, asttypes.Node) else item for item in value]
            )
    if isinstance(node, asttypes.Number):  # 30000 as 3e4, 0.75 as .75
        node.value = _short_number(node.value)
    if isinstance(node, asttypes.Boolean):  # `!0` and `!1`: the same values, fewer bytes
        return asttypes.UnaryExpr("!", asttypes.Number("0" if node.value == "true" else "1"))
    if (
        isinstance(node, asttypes.BinOp)
        and node.op == "+"
        and isinstance(node.left, asttypes.String)
        and isinstance(node.right, asttypes.String)
        and node.left.value[0] == node.right.value[0] == '"'
    ):
        return asttypes.String(node.left.value[:-1] + node.right.value[1:])
    return node


def minify(source: str) -> str:
    # Globals keep their names (window.LeadGate is the public namespace); locals get short ones.
    minified = minify_print(
        fold(es5(source)),
        obfuscate=True,
        obfuscate_globals=False,
        shadow_funcname=True,
        drop_semi=True,
    )
    # calmjs writes `for(var i=0; i<n; i++)`: the spaces go (the re-parse below checks it).
    minified = re.sub(r"for\(([^;\"']*); ([^;\"']*); ", r"for(\1;\2;", minified)
    es5(minified)  # raises if the minifier produced something that does not parse
    return minified + "\n"


def build(source_path: Path, target: Path, built_from: Path, budget: int, argv: list[str],
          *, enforce_budget: bool = False) -> int:  # fmt: skip
    """Minify `source_path` into `target` and record its sha256 in `built_from`; with
    `--check` in `argv`, only say whether the committed files are current (and, with
    `enforce_budget`, within `budget`). Shared with embed/build_track.py."""
    source = source_path.read_text(encoding="utf-8")
    label = f"embed/{source_path.name}"
    try:
        minified = minify(source)
    except ECMASyntaxError as exc:
        print(f"{label}: {exc}", file=sys.stderr)
        return 1
    digest = hashlib.sha256(source_path.read_bytes()).hexdigest() + "\n"
    packed = len(gzip.compress(minified.encode(), 9))
    if "--check" in argv:
        current = target.exists() and target.read_text(encoding="utf-8") == minified
        if not current or not built_from.exists() or built_from.read_text() != digest:
            print(
                f"static/{target.name} is not the build of {label}: "
                "run `make embed` and commit both files",
                file=sys.stderr,
            )
            return 1
        if enforce_budget and packed > budget:
            print(f"static/{target.name} is {packed} bytes gzip -9, over {budget}", file=sys.stderr)
            return 1
        return 0
    target.write_text(minified, encoding="utf-8")
    built_from.write_text(digest)
    verdict = "within" if packed <= budget else "OVER"
    print(
        f"{source_path.name}: {len(source.encode())} bytes source -> {len(minified.encode())} "
        f"bytes minified, {packed} bytes gzip -9 ({verdict} the {budget}-byte budget)"
    )
    return 0


def main(argv: list[str]) -> int:
    return build(SOURCE, TARGET, BUILT_FROM, BUDGET, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
