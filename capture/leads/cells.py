"""What a spreadsheet cell may hold: no text of ours may become a formula when a lead export is
opened, whatever the spreadsheet splits cells on."""

from __future__ import annotations

import re

# A spreadsheet treats a cell starting with one of these as a formula (or, for TAB, CR and NUL,
# strips them and then does). `|` starts DDE payloads in older Excel. OWASP's list plus ours.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "|")
# Where a spreadsheet may start a new cell inside our text: Excel in Denmark and Sweden splits
# a CSV file on `;`, others on TAB, a reader that ignores quotes on `,`, and every one of them
# starts a row at a line break. So the rule is for every place a cell could begin, not only
# the start of ours: when what follows (after spaces, quotes and apostrophes) is a trigger, a
# `'` goes in first. Apostrophes count, so the change can be undone exactly (see `restore`).
CELL_BREAKS = ",;\t\r\n"
TRIGGER_AHEAD = "[ \"']*[-=+@\t\r\0|]"
_STARTS_FORMULA = re.compile(TRIGGER_AHEAD)
_BREAK_BEFORE_FORMULA = re.compile(f"([{CELL_BREAKS}])(?={TRIGGER_AHEAD})")
_ADDED = re.compile(f"(^|[{CELL_BREAKS}])'(?={TRIGGER_AHEAD})")


def neutralise(cell: str) -> str:
    """Put `'` (shown as text by spreadsheets) before every formula trigger that could begin a
    cell: at the start and after each `,`, `;`, TAB and line break, spaces and quotes aside."""
    inner = _BREAK_BEFORE_FORMULA.sub(r"\1'", cell)
    return "'" + inner if _STARTS_FORMULA.match(cell) else inner


def restore(cell: str) -> str:
    """The value `neutralise` was given (what a program reading our CSV back may want)."""
    return _ADDED.sub(r"\1", cell)
