"""The two changes people make at run time: the whole rules document, or one conversion kind.

Each is a new version (`capture.leads.scoring.versions.save`), checked with the messages of
the configuration file, and applied in this process at once (others at their next request).
Both add and flush; the caller commits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from capture.base.lifecycle import CONVERSION_KINDS
from capture.leads.scoring.document import adopt, in_force, seed_of
from capture.leads.scoring.kinds import read_kind, with_cap
from capture.leads.scoring.rules import ScoringRules, ScoringRulesError
from capture.leads.scoring.versions import InForce, checked, save


def as_json(document: Any) -> Any:
    """The document as JSON would store it; YAML dates, NaN or infinity are a problem."""
    try:
        return json.loads(json.dumps(document, allow_nan=False))
    except (TypeError, ValueError):
        raise ScoringRulesError(
            ["(top): only text, numbers, true/false, null, lists and mappings"]
        ) from None


def preview_rules(document: Any) -> ScoringRules:
    """The rules a document would put in force, checked against the kinds in force."""
    return checked(as_json(document), in_force().kinds)


def replace_rules(document: Any, *, via: str, user_id: int | None = None) -> InForce:
    """A new rules document (merged over the defaults, as the configuration file is)."""
    preview_rules(document)  # every problem before any write

    def edit(_base: dict[str, Any], kinds: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return as_json(document), kinds

    state = save(seed_of(), edit, change="rules edited", via=via, user_id=user_id)
    adopt(state)
    return state


def put_kind(raw: Any, *, via: str, user_id: int | None = None) -> tuple[InForce, str, bool]:
    """Add a kind, or re-map one (class, points, labels): (state, kind, whether it is new)."""
    kind, spec, rule, problems = read_kind(raw)
    if problems:
        raise ScoringRulesError(problems)
    created = False

    def edit(
        document: dict[str, Any], kinds: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        nonlocal created
        created = kind not in kinds
        conversions = dict(document.get("conversions") or {})
        conversions[kind] = with_cap(rule, conversions.get(kind))
        kinds[kind] = spec
        return {**document, "conversions": conversions}, kinds

    state = save(seed_of(), edit, change=f"conversion kind {kind}", via=via, user_id=user_id)
    adopt(state)
    return state, kind, created


def describe_kind(state: InForce, kind: str) -> dict[str, Any]:
    """A kind as the API and the back office show it."""
    rule = state.rules.document.get("conversions", {}).get(kind)
    rule = rule if isinstance(rule, Mapping) else {"points": rule or 0}
    return {
        "kind": kind,
        "classification": state.kinds[kind]["classification"],
        "points": state.rules.conversions.get(kind, 0),
        "max": rule.get("max"),
        "per": rule.get("per"),
        "label": dict(state.kinds[kind].get("label") or {}),
        "built_in": kind in CONVERSION_KINDS,
    }
