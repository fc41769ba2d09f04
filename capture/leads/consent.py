"""The consent ledger: append-only proof of what a person agreed to, when, where and how.

GDPR Art. 7(1) puts the burden of proof on the company, so each record carries the exact text
shown, its hash, the form version, the page, the address and the method. Rows are never updated
or deleted; withdrawal and double opt-in confirmation are new rows. Only erasure of the person
(`erasing()` below) may remove them. On PostgreSQL a trigger enforces this for every client,
raw SQL included; the ORM guards below give the clearer error first.

Every record is appended by `append_consents`, whoever records it (a form, the /c/ click, the
/u/ link and page), which fires `consent_changed` for each; `consent_states` reads the
current state per purpose, as the API and webhooks show it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from capture import extension_points
from capture.base.db import Model, db, new_public_id, utcnow
from capture.base.personal import ByLead, Export, Personal
from capture.extension_points import ConsentChanged
from capture.leads.lead import Lead


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    PENDING = "pending"  # double opt-in: given on the form, not yet confirmed by e-mail
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


class ConsentMethod(StrEnum):
    CHECKBOX = "checkbox"  # an unticked box the person ticked
    NOTICE = "notice"  # a required processing notice accepted by submitting
    DOUBLE_OPT_IN = "double_opt_in"
    API = "api"
    LINK = "unsubscribe_link"  # the one-click POST (RFC 8058) or the e-mail's link
    PREFERENCE_PAGE = "preference_page"  # a choice on the /u/ page, with the page's own text
    BACK_OFFICE = "back_office"
    PAGE = "page"  # a call on the customer's page: `leadgate.track.stop()` (docs/tracking.md)


# A purpose's state as the API and webhooks say it: confirmed is granted (proven by e-mail).
STATES = {
    ConsentStatus.GRANTED.value: "granted",
    ConsentStatus.CONFIRMED.value: "granted",
    ConsentStatus.PENDING.value: "pending",
    ConsentStatus.WITHDRAWN.value: "withdrawn",
}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ConsentRecord(Model):
    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("cons")
    )
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="SET NULL")
    )
    purpose: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(20))
    method: Mapped[str] = mapped_column(sa.String(30))
    channel: Mapped[str] = mapped_column(sa.String(20))
    text: Mapped[str] = mapped_column(sa.Text)
    text_hash: Mapped[str] = mapped_column(sa.String(64))
    language: Mapped[str] = mapped_column(sa.String(5))
    form_id: Mapped[int | None] = mapped_column(sa.ForeignKey("forms.id", ondelete="SET NULL"))
    form_version: Mapped[int | None]
    page_url: Mapped[str | None] = mapped_column(sa.String(2048))
    origin: Mapped[str | None] = mapped_column(sa.String(300))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    # The ledger is the proof of consent while the person is a lead; erasure deletes it (the
    # only deletion the append-only guard allows, see `erasing`).
    __privacy__ = Personal(
        find=(ByLead(),),
        delete=True,
        export=Export("consents", lambda record: record.as_proof()),
    )

    def as_proof(self) -> dict[str, Any]:
        """The record as a person or a regulator reads it (GDPR export, printable proof)."""
        return {
            "id": self.public_id,
            "purpose": self.purpose,
            "status": self.status,
            "method": self.method,
            "channel": self.channel,
            "text": self.text,
            "text_sha256": self.text_hash,
            "language": self.language,
            "form_version": self.form_version,
            "page_url": self.page_url,
            "origin": self.origin,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "recorded_at": self.created_at.isoformat(),
            "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None,
        }


class AppendOnlyViolation(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _keep_ledger_append_only(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get("erasing"):
        return
    for obj in session.dirty:
        if isinstance(obj, ConsentRecord) and session.is_modified(obj):
            raise AppendOnlyViolation("consent records are append-only; add a new record")
    for obj in session.deleted:
        if isinstance(obj, ConsentRecord):
            raise AppendOnlyViolation("consent records are removed only by erasure")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    """`session.execute(update(...))` and `delete(...)` never pass through a flush: check here."""
    if state.session.info.get("erasing") or not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == ConsentRecord.__tablename__:
        raise AppendOnlyViolation("consent records are append-only; add a new record")


# The database's own guard: an UPDATE or DELETE from any client (psql, a script, a bug in
# another code path) is refused unless erasure set `leadgate.erasing` for its transaction.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('leadgate.erasing', true), '') <> 'on' THEN
    RAISE EXCEPTION 'consent_records is append-only: add a new record (erasure excepted)'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER consent_records_append_only BEFORE UPDATE OR DELETE ON consent_records
FOR EACH ROW EXECUTE FUNCTION consent_records_append_only()
"""
for _statement in (APPEND_ONLY_FUNCTION, APPEND_ONLY_TRIGGER):
    event.listen(
        ConsentRecord.__table__,
        "after_create",
        sa.DDL(_statement).execute_if(dialect="postgresql"),
    )


def _set_erasing(session: Session, value: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Local to the transaction: a rollback or commit ends the exception by itself.
        session.execute(sa.select(sa.func.set_config("leadgate.erasing", value, True)))


@contextmanager
def erasing(session: Session) -> Iterator[None]:
    """Let erasure of a person remove their ledger; nothing else may."""
    session.info["erasing"] = True
    _set_erasing(session, "on")
    try:
        yield
    finally:
        session.info.pop("erasing", None)
    # After a failure the rollback ends the exception anyway; after success, end it here.
    _set_erasing(session, "off")


def append_consents(lead: Lead, records: Iterable[ConsentRecord]) -> list[ConsentRecord]:
    """Append `records` (the lead's) to the ledger and fire `consent_changed` for each.

    The ledger's one writer: every path that records consent calls this, so no grant,
    confirmation or withdrawal goes unannounced. Adds without flushing (the caller's next
    flush or query writes them); the record's time is set here, so `at` is known at once.
    """
    appended = []
    for record in records:
        # Set only what differs: a record the submission already wrote (with this lead and
        # time) stays clean, so the commit has nothing left to flush.
        if record.lead_id != lead.id:
            record.lead_id = lead.id
        if record.created_at is None:
            record.created_at = utcnow()
        if record not in db.session:
            db.session.add(record)
        appended.append(record)
    for record in appended:
        extension_points.consent_changed.send(
            ConsentChanged(
                lead=lead,
                purpose=record.purpose,
                state=STATES[record.status],
                method=record.method,
                at=record.confirmed_at or record.created_at,
            )
        )
    return appended


def latest_records(lead_ids: Iterable[int]) -> dict[int, dict[str, ConsentRecord]]:
    """The latest record per purpose of each lead: one query for any number of leads.

    Reads without autoflush (a submission half-way through keeps its one lead UPDATE) and
    adds the records appended in this transaction but not yet flushed, which are newer.
    """
    wanted = set(lead_ids)
    latest: dict[int, dict[str, ConsentRecord]] = {lead_id: {} for lead_id in wanted}
    if not wanted:
        return latest
    newest = (
        sa.select(sa.func.max(ConsentRecord.id))
        .where(ConsentRecord.lead_id.in_(wanted))
        .group_by(ConsentRecord.lead_id, ConsentRecord.purpose)
    )
    with db.session.no_autoflush:
        rows = db.session.scalars(sa.select(ConsentRecord).where(ConsentRecord.id.in_(newest)))
        for record in rows:
            latest[record.lead_id][record.purpose] = record
    unflushed = [
        row for row in db.session.new if isinstance(row, ConsentRecord) and row.lead_id in wanted
    ]
    for record in sorted(unflushed, key=lambda row: row.created_at or utcnow()):
        latest[record.lead_id][record.purpose] = record
    return latest


def state_of(record: ConsentRecord) -> dict[str, str]:
    moment = record.confirmed_at or record.created_at
    return {"state": STATES[record.status], "at": moment.isoformat() if moment else ""}


def consent_states(lead_ids: Iterable[int]) -> dict[int, dict[str, dict[str, str]]]:
    """`{lead id: {purpose: {"state": "granted" | "pending" | "withdrawn", "at": ISO time}}}`;
    a purpose never asked about is absent."""
    return {
        lead_id: {purpose: state_of(record) for purpose, record in sorted(by_purpose.items())}
        for lead_id, by_purpose in latest_records(lead_ids).items()
    }
