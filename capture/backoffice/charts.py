"""Bar charts as plain geometry for SVG drawn on the server: no script, readable without colour.

Each bar carries its label and value as text, so the chart reads the same in greyscale, printed,
or by a screen reader (the page also shows the numbers as a table).
"""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 22
GAP = 6
LABEL_WIDTH = 180
BAR_SPACE = 320
VALUE_SPACE = 60


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: int


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * (BAR_HEIGHT + GAP) + GAP

    @property
    def width(self) -> int:
        return LABEL_WIDTH + BAR_SPACE + VALUE_SPACE


def bar_chart(title: str, rows: list[tuple[str, int]]) -> BarChart:
    """Horizontal bars scaled to the largest value; a zero value still shows its label and 0."""
    largest = max((value for _, value in rows), default=0) or 1
    bars = tuple(
        Bar(
            label=label if len(label) <= 28 else label[:27] + "…",
            value=value,
            y=GAP + index * (BAR_HEIGHT + GAP),
            width=max(1, round(BAR_SPACE * value / largest)) if value else 0,
        )
        for index, (label, value) in enumerate(rows)
    )
    return BarChart(title=title, bars=bars)
