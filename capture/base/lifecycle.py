"""Pure rules: which conversion kinds are MQL or SQL, and how stages may move automatically.

No Flask and no database here, so the rules are tested with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Classification(StrEnum):
    MQL = "MQL"
    SQL = "SQL"


class Stage(StrEnum):
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    DISQUALIFIED = "disqualified"


# The funnel order; `disqualified` stands outside it, set only by a person.
FUNNEL: tuple[Stage, ...] = (
    Stage.LEAD,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
)

DEFAULT_CLASSES: Mapping[str, Classification] = {
    "newsletter_signup": Classification.MQL,
    "whitepaper_download": Classification.MQL,
    "ebook_download": Classification.MQL,
    "content_download": Classification.MQL,
    "webinar_registration": Classification.MQL,
    "webinar_attendance": Classification.MQL,
    "video_view": Classification.MQL,
    "contact_request": Classification.SQL,
    "demo_request": Classification.SQL,
    "phone_call": Classification.SQL,
    "sales_email": Classification.SQL,
    "assessment_request": Classification.SQL,
}

CONVERSION_KINDS: frozenset[str] = frozenset(DEFAULT_CLASSES)


class UnknownConversionKind(ValueError):
    pass


def parse_overrides(text: str) -> dict[str, Classification]:
    """Read `kind=CLASS,kind=CLASS` (the LEADGATE_CONVERSION_CLASSES setting)."""
    overrides: dict[str, Classification] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = item.partition("=")
        kind, value = kind.strip(), value.strip().upper()
        if not sep or kind not in CONVERSION_KINDS:
            raise UnknownConversionKind(f"unknown conversion kind in override: {item!r}")
        if value not in Classification.__members__:
            raise ValueError(f"class must be MQL or SQL in override: {item!r}")
        overrides[kind] = Classification(value)
    return overrides


def classify(kind: str, overrides: Mapping[str, Classification] | None = None) -> Classification:
    """The class of a conversion kind: the marketer's re-mapping first, then the default table.

    `overrides` may also name kinds added at run time (the kinds in force hold every kind)."""
    if overrides and kind in overrides:
        return overrides[kind]
    if kind not in CONVERSION_KINDS:
        raise UnknownConversionKind(kind)
    return DEFAULT_CLASSES[kind]


def stage_for(classification: Classification) -> Stage:
    return Stage.SQL if classification is Classification.SQL else Stage.MQL


def rank(stage: Stage) -> int:
    return FUNNEL.index(stage) if stage in FUNNEL else -1


def automatic_move(current: Stage, target: Stage) -> Stage | None:
    """The stage to move to automatically, or None.

    Automatic moves only go forward along the funnel. A disqualified lead stays where a person
    put it: only a person takes it out again.
    """
    if current is Stage.DISQUALIFIED:
        return None
    return target if rank(target) > rank(current) else None
