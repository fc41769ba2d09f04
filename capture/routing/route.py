"""Routing a new SQL to its owner, and who hears of it.

Called once per stage change into SQL, inside that change's transaction (by the webhooks'
`stage_moved` receiver, first, so the `lead.stage_changed` event and the notice to sales both
see the owner). A lead that already has an active owner keeps them. Otherwise the first rule
that matches names a user or a team (round robin); a rule naming a user who can no longer
take leads, or no rule at all, hands the lead to the fallback team. Only the owner is
notified; with no owner (no rule and no fallback team, or a team without an active sales
user), every active sales user is, as before routing existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from capture.accounts import Role, User
from capture.base.db import db
from capture.base.lifecycle import Stage
from capture.forms.store import FormDefinition
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange
from capture.routing.history import set_owner
from capture.routing.rule import Facts, RoutingRule, first_match
from capture.routing.team import SalesTeam, round_robin

ACTOR = "routing"


@dataclass
class Routed:
    """The lead's owner after routing (None: nobody could be picked) and who to notify."""

    owner: User | None
    notify: list[str] = field(default_factory=list)


def can_own(user: User | None) -> bool:
    return user is not None and user.active and user.role == Role.SALES.value


def facts_of(lead: Lead, change: StageChange) -> Facts:
    """The lead's facts; `form` is the form of the conversion that made it SQL, or of its
    latest conversion on a form when a person or the score moved it."""
    form_of = (
        sa.select(FormDefinition.slug)
        .join(ConversionEvent, ConversionEvent.form_id == FormDefinition.id)
        .where(ConversionEvent.lead_id == lead.id)
    )
    if change.conversion_id is not None:
        form = db.session.scalar(form_of.where(ConversionEvent.id == change.conversion_id))
    else:
        form = db.session.scalar(form_of.order_by(ConversionEvent.id.desc()).limit(1))
    return Facts(
        country=lead.country, partner=lead.partner, company_size=lead.company_size, form=form
    )


def describe(rule: RoutingRule) -> str:
    conditions = "; ".join(
        f"{name} {', '.join(values)}" for name, values in sorted((rule.conditions or {}).items())
    )
    return f"routing rule {rule.position + 1}" + (f": {conditions}" if conditions else "")


def everyone() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(User.email)
            .where(User.role == Role.SALES.value, User.active.is_(True))
            .order_by(User.id)
        )
    )


def pick(lead: Lead, change: StageChange) -> tuple[User | None, str]:
    """The owner the rules give (taking a round-robin turn if a team decides) and why."""
    rules = list(db.session.scalars(sa.select(RoutingRule)))
    rule = first_match(rules, facts_of(lead, change)) if rules else None
    team: SalesTeam | None = None
    why = "no routing rule matched"
    if rule is not None:
        why = describe(rule)
        if rule.user_id is not None:
            user = db.session.get(User, rule.user_id)
            if can_own(user):
                return user, why
            why += " (its owner cannot take leads)"
        else:
            team = db.session.get(SalesTeam, rule.team_id)
    if team is not None:
        owner = round_robin(team)
        if owner is not None:
            return owner, f"{why}, team {team.slug} round robin"
        why += f" (team {team.slug} has no active sales user)"
    fallback = db.session.scalar(sa.select(SalesTeam).where(SalesTeam.fallback.is_(True)))
    if fallback is not None and fallback is not team:
        owner = round_robin(fallback)
        if owner is not None:
            return owner, f"{why}: fallback team {fallback.slug} round robin"
    return None, why


def route_sql(lead: Lead, change: StageChange) -> Routed | None:
    """Give a lead that just became SQL its owner; None for any other stage change."""
    if change.to_stage != Stage.SQL.value:
        return None
    if can_own(lead.owner):
        return Routed(lead.owner, [lead.owner.email])
    owner, why = pick(lead, change)
    if owner is None:
        return Routed(None, everyone())
    set_owner(lead, owner, actor=ACTOR, reason=why)
    return Routed(owner, [owner.email])


class UnknownOwner(ValueError):
    """`?owner=` names nobody who could own leads."""


def owner_filter(value: str | None, me: User | None = None) -> dict[str, Any]:
    """The `LeadFilter` arguments for `?owner=`: `me` (a signed-in user), `none`, `any` (or
    absent: no filter) or a user's public id. Raises `UnknownOwner` for anything else."""
    if value is None or value == "any":
        return {}
    if value == "none":
        return {"unowned": True}
    if value == "me":
        if me is None:
            raise UnknownOwner(value)
        return {"owner_id": me.id}
    found = db.session.scalar(sa.select(User.id).where(User.public_id == value))
    if found is None:
        raise UnknownOwner(value)
    return {"owner_id": found}
