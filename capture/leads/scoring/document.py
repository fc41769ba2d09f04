"""The rules and kinds in force: the configuration (`LEADGATE_SCORING_RULES`, inline JSON or a
JSON/YAML file, and `LEADGATE_CONVERSION_CLASSES`) as the seed, the latest saved version once
there is one, held per process, and printed back as the YAML document a team copies.

Every process sees a save without a restart: once per request (every call outside one) the
latest version number is checked (one indexed `max(id)`, read again only when the
config_versions counter moved: a save bumps it), and the held state is reloaded only when
that number moved.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from flask import current_app, has_request_context

from capture.base import safeyaml
from capture.base.context import this_app, this_g
from capture.base.lifecycle import Classification
from capture.base.settled import settled
from capture.leads.scoring.rules import ScoringRules, ScoringRulesError, parse_rules
from capture.leads.scoring.versions import InForce, ScoringVersion, latest_version, load

log = logging.getLogger(__name__)


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


@dataclass
class Held:
    """Per app: the configuration's state (the seed) and the state last seen in force."""

    seed: InForce
    current: InForce


CHECKED = "leadgate_scoring_checked"


def in_force() -> InForce:
    """The rules and kinds in force, the version checked once per request."""
    held: Held = this_app().extensions[EXTENSION]
    if has_request_context() and this_g().get(CHECKED):
        return held.current
    # The latest version's id, read again only after a watched table changed: the request's
    # one read of config_versions (capture.base.settled) tells whether a version was saved.
    return seen_version(settled("scoring_version", latest_version))


def version_column() -> Any:
    """The version in force as a scalar subquery, for a path that counts its statements (a
    download) to read along with a query it makes anyway; hand the value to `seen_version`."""
    return sa.select(sa.func.max(ScoringVersion.id)).scalar_subquery()


def seen_version(version: int | None) -> InForce:
    """The per-request check with a version number read elsewhere: reload if it moved."""
    held: Held = this_app().extensions[EXTENSION]
    version = version or 0
    if version != held.current.version:
        try:
            held.current = load(version) if version else held.seed
        except (LookupError, ScoringRulesError):
            # A version this code no longer accepts: keep applying the last good one.
            log.exception("scoring version %s cannot be applied", version)
    if has_request_context():
        setattr(this_g(), CHECKED, True)
    return held.current


def adopt(state: InForce) -> None:
    """Apply a version this process just saved, without waiting for the next check."""
    current_app.extensions[EXTENSION].current = state


def seed_of() -> InForce:
    seed: InForce = current_app.extensions[EXTENSION].seed
    return seed


def current_rules() -> ScoringRules:
    return in_force().rules


def current_kinds() -> dict[str, dict[str, Any]]:
    return in_force().kinds


def kind_classes() -> dict[str, Classification]:
    """Every kind in force and its class (for `capture.base.lifecycle.classify`)."""
    return in_force().classes
