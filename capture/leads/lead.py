"""Leads and their stage history: the race-free upsert by e-mail and the one way stages move."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture import extension_points
from capture.base.db import Model, Timestamped, fresh, utcnow
from capture.base.lifecycle import Stage
from capture.base.one_trip import attach
from capture.base.personal import EMPTY, NULL, ByLead, Export, Mask, Personal, Set
from capture.extension_points import StageMoved
from capture.leads.owner import Owned, owner_payload

# The columns the back office's text search looks in (capture/backoffice/search.py).
SEARCHED_COLUMNS = ("email", "first_name", "last_name", "company")

# Lead columns a form field of the same name fills in.
PROFILE_COLUMNS = (
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "company_size",
    "industry",
    "country",
    "website",
    "message",
    "budget",
    "authority",
    "need",
    "timeline",
)

# The lead columns a submission fills that an index covers (capture.leads.upsert.upserted).
INDEXED_PROFILE = tuple(name for name in SEARCHED_COLUMNS if name in PROFILE_COLUMNS)


def profile_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """The lead columns `apply_profile` sets from submitted `values`."""
    return {
        name: value
        for name, value in values.items()
        if name in PROFILE_COLUMNS and value not in (None, "", [])
    }


def trigram_index(column: str) -> sa.Index:
    """A GIN trigram index for `column ILIKE '%text%'` on PostgreSQL, where the search would
    otherwise read every lead. One per column (not one over their concatenation) so a search
    matches within a column only, as on SQLite. The operator class is schema-qualified: the
    extension lives in `public` whatever the search_path (tests use a schema of their own).
    SQLite gets none (its search reads every lead): `ddl_if` keeps create_all from making a
    plain B-tree there, and migrations/env.py keeps `db check` from missing it."""
    return sa.Index(
        f"ix_leads_{column}_trgm",
        column,
        postgresql_using="gin",
        postgresql_ops={column: "public.gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")


class Lead(Owned, Timestamped, Model):
    __tablename__ = "leads"
    # Period, stage, and (partner, id) for one partner's leads in list order. None on what decay
    # writes (score, temperature, engagement, updated_at; their filters walk the primary key):
    # PostgreSQL rewrites a decayed lead in place (HOT), with no new entry in any index; fillfactor
    # 50 keeps room for that on each page even when every lead changes (migration 0020_decay).
    __table_args__ = (
        sa.Index("ix_leads_created_at", "created_at"),
        sa.Index(
            "ix_leads_partner_id",
            "partner",
            "id",
            postgresql_where=sa.text("partner IS NOT NULL"),
            sqlite_where=sa.text("partner IS NOT NULL"),
        ),
        *(trigram_index(name) for name in SEARCHED_COLUMNS),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    # Stored normalised and lower-cased, so uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(sa.String(300))
    last_name: Mapped[str | None] = mapped_column(sa.String(300))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    company: Mapped[str | None] = mapped_column(sa.String(300))
    job_title: Mapped[str | None] = mapped_column(sa.String(300))
    company_size: Mapped[str | None] = mapped_column(sa.String(300))
    industry: Mapped[str | None] = mapped_column(sa.String(300))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    website: Mapped[str | None] = mapped_column(sa.String(2048))
    message: Mapped[str | None] = mapped_column(sa.Text)
    budget: Mapped[str | None] = mapped_column(sa.String(300))
    authority: Mapped[str | None] = mapped_column(sa.String(300))
    need: Mapped[str | None] = mapped_column(sa.String(300))
    timeline: Mapped[str | None] = mapped_column(sa.String(300))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(20), default=Stage.LEAD, index=True)
    score: Mapped[int] = mapped_column(default=0)
    temperature: Mapped[str] = mapped_column(sa.String(10), default="cold")
    source: Mapped[str] = mapped_column(sa.String(10), default="inbound")
    partner: Mapped[str | None] = mapped_column(sa.String(80))
    first_touch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_touch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The score's two parts (capture.leads.scoring): engagement decays with idle time and is
    # stored as a float so repeated decay passes do not lose points to rounding; `score` is
    # round(engagement) + fit. `engagement_at` is the moment the engagement value refers to.
    engagement_score: Mapped[float] = mapped_column(sa.Float, default=0.0)
    fit_score: Mapped[int] = mapped_column(default=0)
    engagement_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the person was erased: the row stays only as an anonymous count.
    erased_at: Mapped[datetime | None]

    # The husk that stays after erasure: stage, score, partner and dates still count.
    __privacy__ = Personal(
        find=(ByLead("id"),),
        erase={
            "email": Mask(lambda lead: f"erased-{lead.public_id}@erased.invalid"),
            **dict.fromkeys(PROFILE_COLUMNS, NULL),
            "properties": EMPTY,
            "first_touch": EMPTY,
            "last_touch": EMPTY,
        },
        keep=("public_id", "lifecycle_stage", "temperature", "source", "partner"),
        export=Export("lead", lambda lead: lead_payload(lead), single=True),
    )

    @property
    def stage(self) -> Stage:
        return Stage(self.lifecycle_stage)


# pg_trgm is per database and trusted since PostgreSQL 13 (the database owner may create it).
# Into `public`, which the indexes name. Concurrent create_all runs (test runs, each in a schema
# of its own, share the database) may race to create it: the loser's error is harmless.
TRIGRAM_EXTENSION = """
DO $$ BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL;
END $$
"""
sa.event.listen(
    Lead.__table__, "before_create", sa.DDL(TRIGRAM_EXTENSION).execute_if(dialect="postgresql")
)


def lead_payload(row: Mapping[str, Any] | Lead) -> dict[str, Any]:
    """A lead as the API, exports and webhooks show it (the contract's lead shape)."""
    value = row.__getitem__ if isinstance(row, Mapping) else row.__getattribute__

    def iso(name: str) -> str | None:
        moment = value(name)
        return moment.isoformat() if moment else None

    payload: dict[str, Any] = {
        "id": value("public_id"),
        "email": value("email"),
        "lifecycle_stage": value("lifecycle_stage"),
        "score": value("score"),
        "temperature": value("temperature"),
        "engagement_score": round(value("engagement_score") or 0.0, 2),
        "fit_score": value("fit_score"),
        "source": value("source"),
        "partner": value("partner"),
        "first_touch": value("first_touch") or {},
        "last_touch": value("last_touch") or {},
    }
    payload.update({name: value(name) for name in PROFILE_COLUMNS})
    payload["properties"] = value("properties") or {}
    payload["created_at"] = iso("created_at")
    payload["updated_at"] = iso("updated_at")
    payload["last_activity_at"] = iso("last_activity_at")
    payload["owner"] = owner_payload(value)
    return payload


class StageChange(Model):
    """One move along the lifecycle, with who or what made it and why."""

    __tablename__ = "stage_changes"
    # Reasons are free text someone typed ("called Ane at Firma"): they cannot be kept. The
    # actor is a staff account or a system name, never the person.
    __privacy__ = Personal(
        find=(ByLead(),),
        erase={"reason": Set("[erased]")},
        keep=("from_stage", "to_stage", "actor"),
        export=Export(
            "stage_changes",
            lambda c: {
                "from": c.from_stage,
                "to": c.to_stage,
                "reason": c.reason,
                "actor": c.actor,
                "at": c.created_at.isoformat(),
            },
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.String(500))
    actor: Mapped[str] = mapped_column(sa.String(200))
    conversion_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("conversion_events.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def apply_profile(lead: Lead, values: dict[str, Any]) -> None:
    """Copy submitted values onto the lead: the latest non-empty answer wins, as in CRMs."""
    custom = dict(lead.properties or {})
    profile = profile_of(values)
    for name, value in values.items():
        if name in profile:
            setattr(lead, name, value)
        elif name != "email" and value not in (None, "", []):
            custom[name] = value
    if custom != lead.properties:
        lead.properties = custom


def move_stage(
    lead: Lead,
    to: Stage,
    *,
    reason: str,
    actor: str,
    conversion_id: int | None = None,
) -> StageChange:
    """The one place a lead's stage changes, so every change lands in its history and every
    `stage_moved` receiver (webhooks, notices to sales) hears of it, whoever made it."""
    change = fresh(
        StageChange,
        lead_id=lead.id,
        from_stage=lead.lifecycle_stage,
        to_stage=to.value,
        reason=reason,
        actor=actor,
        conversion_id=conversion_id,
        created_at=utcnow(),
    )
    lead.lifecycle_stage = to.value
    attach(change)
    extension_points.stage_moved.send(StageMoved(lead, change))
    return change
