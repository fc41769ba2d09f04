"""The benchmark table: one row per figure, printed as Markdown so it can go into the README."""

from __future__ import annotations

from dataclasses import astuple, dataclass

HEADER = ("benchmark", "ours", "baseline", "ratio", "bar", "verdict")
NOT_YET_BUILT = "not yet built"


@dataclass
class Row:
    what: str
    ours: str = ""
    baseline: str = ""
    ratio: str = ""
    bar: str = ""
    verdict: str = ""


def verdict(passed: bool) -> str:
    return "ok" if passed else "MISSED"


def render(rows: list[Row]) -> str:
    cells = [HEADER, *(astuple(row) for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADER))]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(HEADER), rule, *(line(astuple(row)) for row in rows)])


def number(value: float) -> str:
    return f"{value:,.0f}"
