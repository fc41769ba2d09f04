"""The rules in force: read from `LEADGATE_SCORING_RULES` (inline JSON or a JSON/YAML file),
held per app, and printed back as the YAML document a team copies to change them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from flask import current_app

from capture.base import safeyaml
from capture.leads.scoring.rules import ScoringRules, parse_rules


class _OneLine(dict[str, Any]):
    """A points rule, printed on one line: `newsletter_signup: {points: 10, max: 1, per: 30d}`."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _OneLine,
    lambda dumper, data: dumper.represent_mapping(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, data, flow_style=True
    ),
)


def rules_yaml(rules: ScoringRules) -> str:
    """The rules in force as a complete document, ready to copy into LEADGATE_SCORING_RULES;
    each points rule on one line, with its cap (`max` per `per`) when it has one."""
    document = dict(rules.document)
    for section in ("conversions", "activities"):
        document[section] = {
            name: _OneLine(rule) if isinstance(rule, Mapping) else rule
            for name, rule in document[section].items()
        }
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


EXTENSION = "leadgate.scoring"


def load_rules(setting: str | None) -> ScoringRules:
    """`LEADGATE_SCORING_RULES`: inline JSON, or the path of a .json/.yaml/.yml file."""
    if not setting or not setting.strip():
        return parse_rules()
    text = setting.strip()
    if not text.startswith("{"):
        path = Path(text)
        text = path.read_text(encoding="utf-8")
        if path.suffix in {".yaml", ".yml"}:
            return parse_rules(safeyaml.load(text))
    return parse_rules(json.loads(text))


def current_rules() -> ScoringRules:
    return current_app.extensions[EXTENSION]
