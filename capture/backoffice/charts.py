"""Bar charts as plain geometry for SVG drawn on the server: no script, readable without colour.

Each bar carries its label and value as text, so the chart reads the same in greyscale, printed,
or by a screen reader (the page also shows the numbers as a table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BAR_WIDTH = 400  # the chart's own units; CSS scales it to its box
ROW = 40  # a label line, then its bar
BAR_HEIGHT = 14


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int  # the label's baseline; the bar lies below it
    width: float


@dataclass(frozen=True)
class BarChart:
    """Each group on its own row: the label and the value on one line, the bar below, so a
    long label can never run into the bar or the number whatever the width."""

    title: str
    bars: tuple[Bar, ...]
    width: int = BAR_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * ROW


def bar_chart(title: str, rows: list[tuple[str, int]]) -> BarChart:
    """Horizontal bars scaled to the largest value; a zero value still shows its label and 0."""
    largest = max((value for _, value in rows), default=0) or 1
    bars = tuple(
        Bar(
            label=label if len(label) <= 40 else label[:39] + "…",
            value=value,
            y=16 + index * ROW,
            width=max(2.0, round(BAR_WIDTH * value / largest, 1)) if value else 0,
        )
        for index, (label, value) in enumerate(rows)
    )
    return BarChart(title=title, bars=bars)


# Charts drawn in a fixed coordinate space (the SVG's viewBox) and scaled to their container by
# CSS: they can never be wider than the screen, and nothing inside can run into anything else.
LINE_WIDTH = 640
LINE_HEIGHT = 240
LINE_LEFT = 56  # room for the y axis' numbers
LINE_BOTTOM = 28  # room for the dates
LINE_TOP = 12


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class LineChart:
    """Conversions per day in the period as an area under a line, the previous period dashed."""

    title: str
    points: str  # polyline of this period
    area: str  # polygon under it
    previous_points: str
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    total: int
    previous_total: int
    width: int = LINE_WIDTH
    height: int = LINE_HEIGHT
    left: int = LINE_LEFT
    baseline: int = LINE_HEIGHT - LINE_BOTTOM

    @property
    def change(self) -> float | None:
        """Per cent change against the previous period; None when it had nothing."""
        if not self.previous_total:
            return None
        return round(100 * (self.total - self.previous_total) / self.previous_total, 1)


def _nice_ceiling(value: int) -> int:
    """The smallest of 2, 4, 10, 20, 40, 100, ... that is at least `value` (at least 4): even,
    so the middle line of the axis is a whole number."""
    value = max(value, 4)
    step = 1
    while True:
        for factor in (2, 4, 10):
            if step * factor >= value:
                return step * factor
        step *= 10


def line_chart(
    title: str,
    days: list[tuple[str, int]],
    previous: list[int],
    date_label: Callable[[str], str] = str,
) -> LineChart:
    """`days`: every day of the period in order with its count (zeros included); `previous`:
    the counts of the period before, day by day in the same order. Three dates and three
    numbers label the axes, placed at the ends and the middle so they cannot overlap."""
    top = _nice_ceiling(max([0, *(count for _, count in days), *previous]))
    plot_width = LINE_WIDTH - LINE_LEFT - 8
    plot_height = LINE_HEIGHT - LINE_BOTTOM - LINE_TOP
    baseline = LINE_HEIGHT - LINE_BOTTOM
    steps = max(1, len(days) - 1)

    def x(index: int) -> float:
        return round(LINE_LEFT + plot_width * index / steps, 1)

    def y(count: int) -> float:
        return round(baseline - plot_height * count / top, 1)

    points = " ".join(f"{x(i)},{y(count)}" for i, (_, count) in enumerate(days))
    area = f"{x(0)},{baseline} {points} {x(len(days) - 1)},{baseline}" if days else ""
    previous_points = " ".join(f"{x(i)},{y(count)}" for i, count in enumerate(previous))
    x_ticks: tuple[Tick, ...] = ()
    if days:
        middle = len(days) // 2
        x_ticks = (
            Tick(x(0), LINE_HEIGHT - 8, date_label(days[0][0]), "start"),
            Tick(x(middle), LINE_HEIGHT - 8, date_label(days[middle][0])),
            Tick(x(len(days) - 1), LINE_HEIGHT - 8, date_label(days[-1][0]), "end"),
        )
    y_ticks = tuple(Tick(LINE_LEFT - 6, y(v), str(v), "end") for v in (0, top // 2, top))
    return LineChart(
        title=title,
        points=points,
        area=area,
        previous_points=previous_points,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        total=sum(count for _, count in days),
        previous_total=sum(previous),
    )


FUNNEL_WIDTH = 480
FUNNEL_ROW = 64


@dataclass(frozen=True)
class FunnelBar:
    name: str
    count: int
    rate: float | None
    y: int
    x: float
    width: float


@dataclass(frozen=True)
class FunnelChart:
    """The funnel as centred bars narrowing stage by stage, each with its name and count
    above it and the share of the stage before beside the name."""

    bars: tuple[FunnelBar, ...]
    width: int = FUNNEL_WIDTH

    @property
    def height(self) -> int:
        return len(self.bars) * FUNNEL_ROW + 4


def funnel_chart(steps: list[tuple[str, int, float | None]]) -> FunnelChart:
    largest = max((count for _, count, _ in steps), default=0) or 1
    bars = []
    for index, (name, count, rate) in enumerate(steps):
        width = max(4.0, round(FUNNEL_WIDTH * count / largest, 1)) if count else 4.0
        bars.append(
            FunnelBar(
                name=name,
                count=count,
                rate=rate,
                y=index * FUNNEL_ROW,
                x=round((FUNNEL_WIDTH - width) / 2, 1),
                width=width,
            )
        )
    return FunnelChart(bars=tuple(bars))
