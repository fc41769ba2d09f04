"""The routing set-up as one document: teams, ordered rules and the fallback team.

The API (`GET/PUT /api/v1/routing/rules`) and the back office's editor read and replace the
whole document at once, so the rules' order is simply the list's order and a half-applied
change cannot exist. The database is the only source (no configuration-file seed): routing
names staff accounts, which exist only in the database. Messages name the place of each
problem (`rules.0.owner`), as the API's error shape has them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import sqlalchemy as sa
from flask_babel import gettext as _
from pydantic import Field

from capture.accounts import Role, User
from capture.base.db import db
from capture.forms.partners import Partner
from capture.forms.spec import SLUG_RE
from capture.forms.store import FormDefinition
from capture.routing.rule import FIELDS, RoutingRule
from capture.routing.team import SalesTeam, TeamMember
from capture.web.params import ParamError, Strict, Text, check

COUNTRY = re.compile(r"^[A-Za-z]{2}$")
# Printable text only (no NUL, which PostgreSQL text cannot hold), stripped.
Short = Annotated[str, Text(80, required=True)]
Address = Annotated[str, Text(320, required=True)]
Values = Annotated[tuple[Short, ...], Field(max_length=100)]


class Conditions(Strict):
    country: Values = Field(default=(), description="two-letter country codes")
    partner: Values = Field(default=(), description="partner slugs")
    company_size: Values = Field(
        default=(), description="company size values, as the forms offer them"
    )
    form: Values = Field(
        default=(), description="form slugs (the form of the qualifying conversion)"
    )


class RuleDocument(Strict):
    when: Conditions = Field(
        default_factory=Conditions, description="all must hold; empty: every lead"
    )
    owner: Address | None = Field(
        default=None, description="e-mail of the sales user who gets the lead"
    )
    team: Short | None = Field(
        default=None, description="slug of the team whose round robin picks the owner"
    )


class TeamDocument(Strict):
    slug: Short
    name: Annotated[str, Text(200, required=True)]
    members: Annotated[tuple[Address, ...], Field(max_length=200)] = Field(
        default=(), description="e-mails of sales users, in round-robin order"
    )


class RoutingDocument(Strict):
    teams: Annotated[tuple[TeamDocument, ...], Field(max_length=100)] = ()
    rules: Annotated[tuple[RuleDocument, ...], Field(max_length=200)] = Field(
        default=(), description="first match wins"
    )
    fallback_team: Short | None = Field(
        default=None, description="team for a new SQL no rule matched"
    )


class RoutingInvalid(ValueError):
    """The document cannot be saved; `fields` maps each place to what is wrong there."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__(", ".join(fields))
        self.fields = fields


def current() -> dict[str, Any]:
    """The routing set-up as it is stored, in the document's shape."""
    teams = list(db.session.scalars(sa.select(SalesTeam).order_by(SalesTeam.id)))
    members = db.session.execute(
        sa.select(TeamMember.team_id, User.email)
        .join(User, User.id == TeamMember.user_id)
        .order_by(TeamMember.position)
    ).all()
    slugs = {team.id: team.slug for team in teams}
    emails = {row.id: row.email for row in db.session.execute(sa.select(User.id, User.email))}
    rules = db.session.scalars(sa.select(RoutingRule).order_by(RoutingRule.position))
    return {
        "teams": [
            {
                "slug": team.slug,
                "name": team.name,
                "members": [email for team_id, email in members if team_id == team.id],
            }
            for team in teams
        ],
        "rules": [
            {
                "when": rule.conditions or {},
                "owner": emails.get(rule.user_id) if rule.user_id else None,
                "team": slugs.get(rule.team_id) if rule.team_id else None,
            }
            for rule in rules
        ],
        "fallback_team": next((team.slug for team in teams if team.fallback), None),
    }


def parse(data: Any) -> RoutingDocument:
    """`data` as a document, or `RoutingInvalid` saying where it is wrong."""
    if not isinstance(data, dict):
        raise RoutingInvalid({"": [_("The routing document must be an object.")]})
    try:
        return check(RoutingDocument, data)
    except ParamError as error:
        fields = dict(error.fields)
        for name in error.unknown:
            fields[name] = [_("Unknown field.")]
        raise RoutingInvalid(fields) from None


def _sales_users(document: RoutingDocument) -> dict[str, User]:
    named = {m.strip().lower() for t in document.teams for m in t.members}
    named |= {r.owner.strip().lower() for r in document.rules if r.owner}
    if not named:
        return {}
    users = db.session.scalars(sa.select(User).where(User.email.in_(named)))
    return {user.email: user for user in users}


def problems(document: RoutingDocument) -> dict[str, list[str]]:
    """Everything that would make the document route wrongly, by place."""
    found: dict[str, list[str]] = {}
    users = _sales_users(document)

    def add(place: str, message: str) -> None:
        found.setdefault(place, []).append(message)

    def check_user(place: str, email: str) -> None:
        user = users.get(email.strip().lower())
        if user is None:
            add(place, _("There is no user %(email)s.", email=email))
        elif user.role != Role.SALES.value:
            add(place, _("%(email)s is not a sales user.", email=email))
        elif not user.active:
            add(place, _("%(email)s is deactivated.", email=email))

    slugs: set[str] = set()
    for i, team in enumerate(document.teams):
        if not SLUG_RE.match(team.slug):
            add(f"teams.{i}.slug", _("Use lower-case letters, digits and hyphens."))
        if team.slug in slugs:
            add(f"teams.{i}.slug", _("Another team has this slug."))
        slugs.add(team.slug)
        if not team.name.strip():
            add(f"teams.{i}.name", _("This field is required."))
        for j, member in enumerate(team.members):
            check_user(f"teams.{i}.members.{j}", member)
    forms = set(db.session.scalars(sa.select(FormDefinition.slug)))
    partners = set(db.session.scalars(sa.select(Partner.slug)))
    for i, rule in enumerate(document.rules):
        if (rule.owner is None) == (rule.team is None):
            add(f"rules.{i}", _("Name either an owner or a team."))
        if rule.owner is not None:
            check_user(f"rules.{i}.owner", rule.owner)
        if rule.team is not None and rule.team not in slugs:
            add(f"rules.{i}.team", _("There is no team %(slug)s.", slug=rule.team))
        for value in rule.when.country:
            if not COUNTRY.match(value):
                add(f"rules.{i}.when.country", _("Use a two-letter country code (DK, SE, ...)."))
        for value in rule.when.form:
            if value not in forms:
                add(f"rules.{i}.when.form", _("There is no form %(slug)s.", slug=value))
        for value in rule.when.partner:
            if value not in partners:
                add(f"rules.{i}.when.partner", _("There is no partner %(slug)s.", slug=value))
    if document.fallback_team is not None and document.fallback_team not in slugs:
        add("fallback_team", _("There is no team %(slug)s.", slug=document.fallback_team))
    return found


def replace(document: RoutingDocument) -> None:
    """Store `document` in place of the current set-up (adds, never commits). Raises
    `RoutingInvalid` first if it has problems. A team that stays keeps its round-robin turn."""
    found = problems(document)
    if found:
        raise RoutingInvalid(found)
    users = _sales_users(document)
    existing = {t.slug: t for t in db.session.scalars(sa.select(SalesTeam).with_for_update())}
    db.session.execute(sa.delete(RoutingRule))
    db.session.execute(sa.delete(TeamMember))
    for gone in set(existing) - {t.slug for t in document.teams}:
        db.session.delete(existing.pop(gone))
    teams: dict[str, SalesTeam] = {}
    for spec in document.teams:
        team = existing.get(spec.slug) or SalesTeam(slug=spec.slug, turns=0)
        team.name = spec.name.strip()
        team.fallback = spec.slug == document.fallback_team
        db.session.add(team)
        teams[spec.slug] = team
    db.session.flush()
    for spec in document.teams:
        for position, email in enumerate(dict.fromkeys(m.strip().lower() for m in spec.members)):
            db.session.add(
                TeamMember(team_id=teams[spec.slug].id, user_id=users[email].id, position=position)
            )
    for position, rule in enumerate(document.rules):
        conditions = {
            name: [v.strip().upper() if name == "country" else v.strip() for v in values]
            for name in FIELDS
            if (values := getattr(rule.when, name))
        }
        db.session.add(
            RoutingRule(
                position=position,
                conditions=conditions,
                user_id=users[rule.owner.strip().lower()].id if rule.owner else None,
                team_id=teams[rule.team].id if rule.team else None,
            )
        )
    db.session.flush()
