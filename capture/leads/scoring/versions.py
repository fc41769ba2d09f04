"""Scoring rules and conversion kinds as versioned data: one row per save, never updated.

The row with the highest id is in force. Each holds the whole checked rules document (JSON, so
a section added to the document later, like `page_rules`, is carried without a schema change)
and the kinds with their class and labels. Until the first save nothing is stored and the
configuration (`LEADGATE_SCORING_RULES`, `LEADGATE_CONVERSION_CLASSES`) is in force: it is the
seed, written as version 1 just before the first change so the history starts with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, db, table_of, utcnow
from capture.base.lifecycle import Classification
from capture.base.personal import NotPersonal
from capture.base.settled import watch
from capture.leads.lead import Lead
from capture.leads.scoring.kinds import check_kinds, classes
from capture.leads.scoring.rules import ScoringRules, ScoringRulesError, parse_rules

SEED_CHANGE = "seeded from the configuration"


class ScoringVersion(Model):
    """One saved state of the rules and kinds; the highest id is in force."""

    __tablename__ = "scoring_versions"

    id: Mapped[int] = mapped_column(primary_key=True)  # the version number
    document: Mapped[dict[str, Any]]
    kinds: Mapped[dict[str, Any]]
    change: Mapped[str] = mapped_column(sa.String(200))  # what the save changed, in short
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    via: Mapped[str] = mapped_column(sa.String(200))  # back office, an API token, configuration
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __privacy__ = NotPersonal(
        keep=("document", "kinds", "change", "via"),
        why="scoring rules and kinds; created_by_id is the editing staff user, never a lead",
    )


# A save bumps config_versions (capture.base.settled), so a request learns of a new version
# from the one counter it reads anyway.
watch(ScoringVersion)


@dataclass(frozen=True)
class InForce:
    """The rules and kinds a process applies; version 0 is the configuration (nothing saved)."""

    version: int
    rules: ScoringRules
    kinds: dict[str, dict[str, Any]]

    @cached_property
    def classes(self) -> dict[str, Classification]:
        """Worked out once per version (every submission classifies its conversion); read it,
        never change it."""
        return classes(self.kinds)


def checked(document: Any, kinds: Any) -> ScoringRules:
    """The rules of a document against the kinds; every problem as `path: problem`."""
    problems = check_kinds(kinds)
    if problems:
        raise ScoringRulesError(problems)
    return parse_rules(document, kinds)


def latest_version() -> int:
    """The cheap check every request makes: the highest id (0 when nothing is saved)."""
    with db.session.no_autoflush:
        return db.session.scalar(sa.select(sa.func.max(ScoringVersion.id))) or 0


def load(version: int) -> InForce:
    row = db.session.get(ScoringVersion, version)
    if row is None:
        raise LookupError(version)
    return InForce(row.id, checked(row.document, row.kinds), dict(row.kinds))


def history(limit: int = 50) -> list[ScoringVersion]:
    return list(
        db.session.scalars(
            sa.select(ScoringVersion).order_by(ScoringVersion.id.desc()).limit(limit)
        )
    )


def _serialise() -> None:
    """Saves one after another on PostgreSQL, so an added kind is never lost to a concurrent
    save based on the same version (SQLite writes one at a time anyway)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(7216540033)"))


Edit = Callable[[dict[str, Any], dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


def save(
    seed: InForce, edit: Edit, *, change: str, via: str, user_id: int | None = None
) -> InForce:
    """A new version: `edit(document, kinds)` of the latest one, checked (raises
    `ScoringRulesError`). Adds and flushes; the caller commits. Temperatures of existing leads
    follow the new bands at once; stages move at each lead's next scored event."""
    _serialise()
    version = latest_version()
    base = load(version) if version else seed
    if not version:
        db.session.add(
            ScoringVersion(
                document=seed.rules.document, kinds=seed.kinds, change=SEED_CHANGE,
                via="configuration",
            )
        )  # fmt: skip
    document, kinds = edit(dict(base.rules.document), {k: dict(v) for k, v in base.kinds.items()})
    rules = checked(document, kinds)
    row = ScoringVersion(
        document=rules.document, kinds=kinds, change=change[:200], via=via[:200],
        created_by_id=user_id,
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    reband(rules)
    return InForce(row.id, rules, kinds)


def band(rules: ScoringRules, score: Any) -> Any:
    """The temperature of a score column, in SQL (the same bands as `points.temperature`)."""
    return sa.case(
        (score >= rules.hot_from, "hot"), (score >= rules.warm_from, "warm"), else_="cold"
    )


def reband(rules: ScoringRules) -> None:
    """Set-based: every lead whose temperature the new bands change; no history is rewritten
    (scores and stage histories stay as they were)."""
    c = table_of(Lead).c
    new = band(rules, c.score)
    db.session.execute(
        sa.update(table_of(Lead))
        .where(c.erased_at.is_(None), c.temperature != new)
        .values(temperature=new, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
