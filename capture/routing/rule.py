"""Routing rules: ordered conditions on a new SQL, each naming an owner or a team.

The first rule whose every condition holds wins. A condition is a field (country, partner,
company size, form) and the values it accepts; a rule without conditions matches every lead
(a catch-all, usually last). Matching is pure: plain facts in, the winning rule out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model
from capture.base.personal import NotPersonal

# What a rule may look at; each names a fact about the lead (`Facts`).
FIELDS = ("country", "partner", "company_size", "form")


class RoutingRule(Model):
    __tablename__ = "routing_rules"
    __privacy__ = NotPersonal(
        keep=("conditions",), why="countries, partners, sizes and forms to match: no person"
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column()
    # {"country": ["SE"], "company_size": ["201+"]}: every field must hold one of its values.
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Exactly one of the two: a user owns the lead, or a team's round robin picks one.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sales_teams.id", ondelete="CASCADE"))


@dataclass(frozen=True)
class Facts:
    """What routing knows about a lead when it becomes SQL (None: not known)."""

    country: str | None = None
    partner: str | None = None
    company_size: str | None = None
    form: str | None = None


def normalised(field: str, value: str) -> str:
    """Countries compare upper-case (`se` is `SE`); everything else exactly."""
    return value.strip().upper() if field == "country" else value.strip()


def holds(conditions: Mapping[str, Sequence[str]], facts: Facts) -> bool:
    for field, accepted in conditions.items():
        fact = getattr(facts, field, None)
        if fact is None or normalised(field, fact) not in {normalised(field, a) for a in accepted}:
            return False
    return True


def first_match(rules: Sequence[RoutingRule], facts: Facts) -> RoutingRule | None:
    """The first rule (by position) whose conditions all hold."""
    for rule in sorted(rules, key=lambda r: r.position):
        if holds(rule.conditions or {}, facts):
            return rule
    return None
