"""Page rules: which activity a page view on the customer's site is, by its path.

`page_rules` in the scoring rules maps path patterns (`/pricing*`, shell-style: `*` any run of
characters, `?` one) to activity names, plus `default` for every other page. The most specific
pattern wins (the most characters other than wildcards), so the order of the mapping does not
matter and a team's own patterns merge over the defaults. An activity of `null` leaves those
pages unscored (and removes a default pattern).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

DEFAULT = "default"
MAX_PATTERN = 200


@dataclass(frozen=True)
class PageRules:
    """Patterns, most specific first, each with its activity; `default` for the rest."""

    patterns: tuple[tuple[str, str], ...] = ()
    default: str | None = None

    def activity(self, path: str) -> str | None:
        """The activity a view of `path` counts as; None: not scored."""
        folded = (path or "/").casefold()
        for pattern, activity in self.patterns:
            if fnmatchcase(folded, pattern):
                return activity
        return self.default


def _specificity(pattern: str) -> tuple[int, int]:
    return (len(pattern.replace("*", "").replace("?", "")), len(pattern))


def parse_page_rules(raw: Any, activities: Mapping[str, int], problems: list[str]) -> PageRules:
    """`page_rules` as read from the rules document; problems are appended by path."""
    if not isinstance(raw, Mapping):
        problems.append("page_rules: must be a mapping of path patterns to activities")
        return PageRules()
    patterns: list[tuple[str, str]] = []
    default: str | None = None
    for key, activity in raw.items():
        path = f"page_rules.{key}"
        if activity is not None and activity not in activities:
            problems.append(f"{path}: unknown activity {activity!r} (see activities)")
            continue
        if key == DEFAULT:
            default = activity
        elif not isinstance(key, str) or not key.startswith("/") or len(key) > MAX_PATTERN:
            problems.append(f"{path}: a path pattern starting with / (like /pricing*) or default")
        elif activity is not None:
            patterns.append((key.casefold(), activity))
    patterns.sort(key=lambda item: _specificity(item[0]), reverse=True)
    return PageRules(tuple(patterns), default)
