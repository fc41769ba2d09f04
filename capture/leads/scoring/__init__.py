"""Lead scoring: rules as data, applied to leads with a history of every change, and decay.

`rules` reads and checks the rules (merged over `defaults`, with `caps` per window); `points`
says what they give; `kinds` are the conversion kinds with class and labels; `versions` keeps
every saved state of rules and kinds; `document` holds the state in force (checked once per
request) and prints it; `effect` counts what a change would do before it is saved; `apply` adds
points and moves stages when a threshold is crossed; `history` keeps each change for the
timeline; `decay` takes engagement away with time. Import the public names from here.
"""

from __future__ import annotations

from flask import Flask

from capture.base.db import on_connect
from capture.base.lifecycle import parse_overrides
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
from capture.leads.scoring.document import (
    EXTENSION,
    Held,
    adopt,
    current_kinds,
    current_rules,
    in_force,
    kind_classes,
    load_rules,
    rules_yaml,
    seed_of,
    seen_version,
    version_column,
)
from capture.leads.scoring.edits import describe_kind, preview_rules, put_kind, replace_rules
from capture.leads.scoring.effect import effect
from capture.leads.scoring.history import ScoreChange, Scored
from capture.leads.scoring.kinds import label, read_kind, seed_kinds
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
from capture.leads.scoring.versions import InForce, ScoringVersion, history, save

__all__ = [
    "ACTOR",
    "BANT_FIELDS",
    "DEFAULTS",
    "BantRule",
    "Cap",
    "FitRule",
    "InForce",
    "ScoreChange",
    "Scored",
    "ScoringRules",
    "ScoringRulesError",
    "ScoringVersion",
    "Temperature",
    "activity_points",
    "add_engagement",
    "adopt",
    "conversion_points",
    "current_kinds",
    "current_rules",
    "decay_all",
    "decayed",
    "describe_kind",
    "effect",
    "fit_points",
    "history",
    "in_force",
    "init_app",
    "kind_classes",
    "label",
    "load_rules",
    "parse_rules",
    "preview_rules",
    "put_kind",
    "qualify",
    "read_kind",
    "refresh_fit",
    "replace_rules",
    "round_half_away",
    "rules_yaml",
    "save",
    "score_activity",
    "score_conversion",
    "seed_of",
    "seen_version",
    "temperature",
    "threshold_stage",
    "total",
    "version_column",
]


def init_app(app: Flask) -> None:
    """Read the configuration once at start (bad rules stop the app with every problem listed):
    the seed, in force until a version is saved in the database."""
    seed = InForce(
        0,
        load_rules(app.config.get("SCORING_RULES")),
        seed_kinds(parse_overrides(app.config.get("CONVERSION_CLASSES", ""))),
    )
    app.extensions[EXTENSION] = Held(seed=seed, current=seed)
    on_connect(app, sqlite_power)
