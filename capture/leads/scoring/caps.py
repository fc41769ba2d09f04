"""Caps on scoring rules: at most `max` scored repeats of a rule per rolling window.

A burst of the same conversion (ten signups in a second) must not add up to an SQL, so every
rule may carry `max` and `per`; repeats beyond the cap are kept on the timeline with 0 points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# A cap's window: a whole number and a unit, as in `per: 30d`.
WINDOW = re.compile(r"^([1-9][0-9]{0,5})\s*([mhdw])$")
UNITS = {"m": ("minute", 60), "h": ("hour", 3600), "d": ("day", 86400), "w": ("week", 604800)}
RULE_KEYS = frozenset({"points", "max", "per"})


@dataclass(frozen=True)
class Cap:
    """At most `max` scored occurrences of a rule per rolling `per` window; repeats beyond it
    are recorded with 0 points and `reason(...)`."""

    max: int
    per: timedelta
    window: str  # as written: "30d"

    def reason(self, name: str) -> str:
        """Why a repeat scored nothing: `newsletter_signup: at most 1 per 30 days`."""
        number, unit = self.window[:-1], self.window[-1]
        word = UNITS[unit][0]
        span = word if number == "1" else f"{number} {word}s"
        return f"{name}: at most {self.max} per {span}"


def parse_window(value: Any) -> tuple[timedelta, str] | None:
    """`per` as (its length, as written again: "30d"); None if it is not a window."""
    match = WINDOW.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    number, unit = match.groups()
    return timedelta(seconds=int(number) * UNITS[unit][1]), f"{number}{unit}"
