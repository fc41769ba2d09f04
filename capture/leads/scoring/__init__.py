"""Lead scoring: rules as data, applied to leads with a history of every change, and decay.

`rules` reads and checks the rules (merged over `defaults`, with `caps` per window); `points`
says what they give; `document` holds the rules in force and prints them; `apply` adds points
and moves stages when a threshold is crossed; `history` keeps each change for the timeline; `decay`
takes engagement away with time. Import the public names from here.
"""

from __future__ import annotations

from flask import Flask

from capture.base.db import on_connect
from capture.leads.scoring.apply import (
    ACTOR,
    add_engagement,
    qualify,
    refresh_fit,
    score_activity,
    score_conversion,
)
from capture.leads.scoring.caps import Cap
from capture.leads.scoring.decay import decay_all, decayed, sqlite_power
from capture.leads.scoring.defaults import BANT_FIELDS, DEFAULTS
from capture.leads.scoring.document import EXTENSION, current_rules, load_rules, rules_yaml
from capture.leads.scoring.history import ScoreChange, Scored
from capture.leads.scoring.points import (
    activity_points,
    conversion_points,
    fit_points,
    round_half_away,
    temperature,
    threshold_stage,
    total,
)
from capture.leads.scoring.rules import (
    BantRule,
    FitRule,
    ScoringRules,
    ScoringRulesError,
    Temperature,
    parse_rules,
)

__all__ = [
    "ACTOR",
    "BANT_FIELDS",
    "DEFAULTS",
    "BantRule",
    "Cap",
    "FitRule",
    "ScoreChange",
    "Scored",
    "ScoringRules",
    "ScoringRulesError",
    "Temperature",
    "activity_points",
    "add_engagement",
    "conversion_points",
    "current_rules",
    "decay_all",
    "decayed",
    "fit_points",
    "init_app",
    "load_rules",
    "parse_rules",
    "qualify",
    "refresh_fit",
    "round_half_away",
    "rules_yaml",
    "score_activity",
    "score_conversion",
    "temperature",
    "threshold_stage",
    "total",
]


def init_app(app: Flask) -> None:
    """Read the rules once at start (bad rules stop the app with every problem listed)."""
    app.extensions[EXTENSION] = load_rules(app.config.get("SCORING_RULES"))
    on_connect(app, sqlite_power)
