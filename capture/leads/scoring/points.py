"""What the rules give: points for a conversion, an activity or a profile, the total, and what
a score means (temperature, the stage it qualifies for). Plain values in, plain values out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from capture.leads.scoring.rules import ScoringRules, Temperature


def conversion_points(rules: ScoringRules, kind: str, percent: float | None = None) -> int:
    """Points for a conversion; a video watched in part earns that part of the points."""
    points = rules.conversions.get(kind, 0)
    if percent is not None:
        points = round(points * max(0.0, min(percent, 100.0)) / 100)
    return points


def activity_points(rules: ScoringRules, activity: str) -> int:
    return rules.activities.get(activity, 0)


def fit_points(rules: ScoringRules, profile: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The fit rules that apply to a profile, as (rule name, points)."""
    return [(r.name, r.points) for r in rules.fit if r.applies(_text(profile.get(r.field)))]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def round_half_away(value: float) -> int:
    """SQL's round(): halves go away from zero (Python's round() goes to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def total(engagement: float, fit: int) -> int:
    return round_half_away(engagement) + fit


def temperature(rules: ScoringRules, score: int) -> Temperature:
    if score >= rules.hot_from:
        return Temperature.HOT
    if score >= rules.warm_from:
        return Temperature.WARM
    return Temperature.COLD


def threshold_stage(rules: ScoringRules, score: int) -> str | None:
    """`sql`, `mql` or None: the stage a score alone qualifies for."""
    if score >= rules.sql_threshold:
        return "sql"
    if score >= rules.mql_threshold:
        return "mql"
    return None
