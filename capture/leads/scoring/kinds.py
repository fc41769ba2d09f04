"""Conversion kinds as data: each kind's class (MQL or SQL) and its label per language.

The twelve kinds of the contract are the seed (with `LEADGATE_CONVERSION_CLASSES` re-mappings);
admins add kinds (`trade_show_visit`) and re-map them at run time, stored with the scoring
rules (`capture.leads.scoring.versions`). Pure: plain values in, plain values out; problems are
`path: problem` sentences like the rules document's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from capture.base.lifecycle import DEFAULT_CLASSES, Classification

# Stable identifiers (used in forms, events, webhooks and exports): snake_case, as the built-ins.
KIND_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
LANGUAGES = ("da", "sv", "en")
LABEL_LIMIT = 80
# A kind added without a cap gets this one, so a burst of it cannot make an SQL (issue 14).
DEFAULT_CAP = {"max": 1, "per": "1d"}
KIND_KEYS = frozenset({"kind", "classification", "points", "label", "max", "per"})

BUILT_IN_LABELS: dict[str, dict[str, str]] = {
    "newsletter_signup": {"da": "Nyhedsbrevstilmelding", "sv": "Nyhetsbrevsanmälan",
                          "en": "Newsletter signup"},
    "whitepaper_download": {"da": "Whitepaper hentet", "sv": "Whitepaper nedladdad",
                            "en": "Whitepaper download"},
    "ebook_download": {"da": "E-bog hentet", "sv": "E-bok nedladdad", "en": "E-book download"},
    "content_download": {"da": "Indhold hentet", "sv": "Innehåll nedladdat",
                         "en": "Content download"},
    "webinar_registration": {"da": "Webinartilmelding", "sv": "Webinaranmälan",
                             "en": "Webinar registration"},
    "webinar_attendance": {"da": "Webinardeltagelse", "sv": "Webinardeltagande",
                           "en": "Webinar attendance"},
    "video_view": {"da": "Video set", "sv": "Video visad", "en": "Video view"},
    "contact_request": {"da": "Kontaktformular", "sv": "Kontaktformulär",
                        "en": "Contact request"},
    "demo_request": {"da": "Demo bestilt", "sv": "Demo bokad", "en": "Demo request"},
    "phone_call": {"da": "Telefonopkald", "sv": "Telefonsamtal", "en": "Phone call"},
    "sales_email": {"da": "E-mail til salg", "sv": "E-post till sälj", "en": "E-mail to sales"},
    "assessment_request": {"da": "Analyse eller tilbud bestilt",
                           "sv": "Analys eller offert begärd", "en": "Assessment request"},
}  # fmt: skip


def seed_kinds(overrides: Mapping[str, Classification]) -> dict[str, dict[str, Any]]:
    """The kinds of a new install: the contract's twelve, re-mapped by the configuration."""
    return {
        kind: {
            "classification": overrides.get(kind, default).value,
            "label": dict(BUILT_IN_LABELS[kind]),
        }
        for kind, default in DEFAULT_CLASSES.items()
    }


def classes(kinds: Mapping[str, Mapping[str, Any]]) -> dict[str, Classification]:
    return {kind: Classification(spec["classification"]) for kind, spec in kinds.items()}


def label(kinds: Mapping[str, Mapping[str, Any]], kind: str, language: str) -> str:
    """A kind's label in `language`, else English, else the identifier itself."""
    labels = (kinds.get(kind) or {}).get("label") or {}
    return str(labels.get(language) or labels.get("en") or kind)


def _class(value: Any) -> bool:
    return isinstance(value, str) and value in Classification.__members__


def _text(value: Any, path: str, problems: list[str], required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(f"{path}: is required")
        return None
    if not isinstance(value, str):
        problems.append(f"{path}: must be text")
        return None
    if len(value.strip()) > LABEL_LIMIT:
        problems.append(f"{path}: at most {LABEL_LIMIT} characters")
    return value.strip()


def read_kind(raw: Any) -> tuple[str, dict[str, Any], dict[str, Any], list[str]]:
    """A kind as an admin sends it: (kind, its spec, its points rule, problems).

    The points rule (`points`, and `max` per `per` when given) is checked with the rest of
    the rules document by `parse_rules`, so its messages are the document's.
    """
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        return "", {}, {}, ["(top): must be a mapping"]
    problems += [f"{key}: unknown setting" for key in sorted(set(raw) - KIND_KEYS, key=str)]
    kind = raw.get("kind")
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        problems.append("kind: 2-40 lower-case letters, digits and _ , starting with a letter")
        kind = ""
    classification = raw.get("classification")
    if not _class(classification):
        problems.append("classification: MQL or SQL")
        classification = Classification.MQL.value
    labels = raw.get("label")
    spec_label: dict[str, str] = {}
    if not isinstance(labels, Mapping):
        problems.append("label: a mapping of da, sv and en texts")
    else:
        problems += [
            f"label.{key}: unknown language"
            for key in sorted(set(labels) - set(LANGUAGES), key=str)
        ]
        for language in LANGUAGES:
            text = _text(labels.get(language), f"label.{language}", problems, language == "en")
            if text:
                spec_label[language] = text
    rule: dict[str, Any] = {"points": raw.get("points")}
    if "max" in raw or "per" in raw:
        rule |= {"max": raw.get("max"), "per": raw.get("per")}
    return kind, {"classification": classification, "label": spec_label}, rule, problems


def with_cap(rule: dict[str, Any], earlier: Any) -> dict[str, Any]:
    """A kind's points rule as saved: the cap given, else the kind's earlier one, else
    `DEFAULT_CAP` for a new kind."""
    if "max" in rule or "per" in rule:
        return rule
    if isinstance(earlier, Mapping):
        return {**earlier, **rule}
    return rule | DEFAULT_CAP


def check_kinds(kinds: Any) -> list[str]:
    """Problems in a stored or seeded `kinds` mapping (the built-ins may be re-mapped, never
    dropped: forms, events and exports name them)."""
    if not isinstance(kinds, Mapping):
        return ["kinds: must be a mapping"]
    problems = [
        f"kinds.{kind}: built-in kinds cannot be removed"
        for kind in sorted(set(DEFAULT_CLASSES) - set(kinds))
    ]
    for kind, spec in kinds.items():
        if not isinstance(kind, str) or not KIND_RE.match(kind):
            problems.append(f"kinds.{kind}: not a kind identifier")
        elif not isinstance(spec, Mapping) or not _class(spec.get("classification")):
            problems.append(f"kinds.{kind}.classification: MQL or SQL")
    return problems
