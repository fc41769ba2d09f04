"""Download grants (a lead's right to a magnet, until it expires) and the downloads made with them.

A link carries only the grant's public id, signed for the DOWNLOAD purpose; whether it still
works is decided here from the row (expiry per magnet, revocation), so a marketer can revoke
a link and a lifetime change never needs a new signature scheme.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from capture.base.db import Model, db, new_public_id, table_of, utcnow
from capture.base.personal import NULL, ByLead, Export, Mask, Personal, iso
from capture.leads.lead import Lead
from capture.leads.scoring import current_rules, score_activity, seen_version, version_column
from capture.ops import metrics
from capture.web.tokens import Purpose, sign
from capture.web.urls import public_url
from magnets.engagement import ACTIVITY, download_points, scored_touch
from magnets.magnet import Magnet, MagnetFile

DOWNLOADS = "leadgate_downloads"
SCORED_INSERT = "magnets.scored_download_insert"
ERASURE = "erasure"  # who revoked the links of an erased person


class GrantSource:
    SUBMISSION = "submission"
    CONFIRMATION = "confirmation"  # issued when a double opt-in is confirmed
    FRESH_LINK = "fresh_link"  # asked for from an expired link's page
    BACK_OFFICE = "back_office"
    NURTURE = "nurture"  # the next magnet's link in a nurture follow-up


class DownloadGrant(Model):
    __tablename__ = "download_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("dlg")
    )
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    magnet_id: Mapped[int] = mapped_column(
        sa.ForeignKey("magnets.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="SET NULL")
    )
    renewed_from_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("download_grants.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(sa.String(20), default=GrantSource.SUBMISSION)
    # The language the lead used: pages and e-mails about this link speak it.
    language: Mapped[str] = mapped_column(sa.String(5), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(sa.String(200))

    lead: Mapped[Lead] = relationship(lazy="joined")
    magnet: Mapped[Magnet] = relationship(lazy="joined")

    # Erasure revokes every link the person holds (`/d/` then answers 410 and records
    # nothing); the grant stays, without a person, as a count of links issued per magnet.
    __privacy__ = Personal(
        find=(ByLead(),),
        erase={
            "revoked_at": Mask(lambda g: g.revoked_at or utcnow()),
            "revoked_by": Mask(lambda g: g.revoked_by or ERASURE),
        },
        keep=("public_id", "source", "language"),
        export=Export(
            "download_grants",
            lambda g: {
                "id": g.public_id,
                "magnet": g.magnet.slug,
                "source": g.source,
                "language": g.language,
                "created_at": iso(g.created_at),
                "expires_at": iso(g.expires_at),
                "revoked_at": iso(g.revoked_at),
            },
        ),
    )

    def expired(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.expires_at

    @property
    def token(self) -> str:
        return sign(Purpose.DOWNLOAD, self.public_id)

    @property
    def url(self) -> str:
        """Absolute, for answers and e-mails (honours PUBLIC_BASE_URL)."""
        return public_url("links.download", token=self.token)


class Download(Model):
    """One use of a link: the lead's timeline entry and the magnet's download count."""

    __tablename__ = "downloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("dl")
    )
    grant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("download_grants.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    magnet_id: Mapped[int] = mapped_column(
        sa.ForeignKey("magnets.id", ondelete="CASCADE"), index=True
    )
    # Which version was delivered, so a replaced file's history shows who got what.
    file_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("magnet_files.id", ondelete="SET NULL")
    )
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    # Kept without IP and user agent: the magnet's download count still adds up.
    __privacy__ = Personal(
        find=(ByLead(),),
        erase={"ip": NULL, "user_agent": NULL},
        keep=("public_id",),
        network=("ip", "user_agent"),
        export=Export(
            "downloads",
            lambda d: {
                "id": d.public_id,
                "magnet_id": d.magnet_id,
                "ip": d.ip,
                "user_agent": d.user_agent,
                "at": iso(d.created_at),
            },
        ),
    )


def issue_grant(
    lead: Lead,
    magnet: Magnet,
    *,
    language: str,
    source: str,
    submission_id: int | None = None,
    renewed_from: DownloadGrant | None = None,
) -> DownloadGrant:
    """A new grant valid for the magnet's link lifetime from now; added and flushed."""
    now = utcnow()
    grant = DownloadGrant(
        lead=lead,
        lead_id=lead.id,
        magnet=magnet,
        magnet_id=magnet.id,
        submission_id=submission_id,
        renewed_from_id=renewed_from.id if renewed_from else None,
        source=source,
        language=language,
        created_at=now,
        expires_at=now + timedelta(days=magnet.link_lifetime_days),
    )
    db.session.add(grant)
    db.session.flush()
    return grant


def find_grant(public_id: str, *, with_lead: bool = True) -> DownloadGrant | None:
    """The grant with its magnet and file, in one query; `with_lead=False` leaves the lead
    row out of it (loaded only if read), which a download does not need."""
    # The scoring version in force rides along, so a download stays two statements.
    query = sa.select(DownloadGrant, version_column()).where(DownloadGrant.public_id == public_id)
    if not with_lead:
        query = query.options(lazyload(DownloadGrant.lead))
    found = db.session.execute(query).first()
    if found is None:
        return None
    seen_version(found[1])
    grant: DownloadGrant = found[0]
    return grant


def record_download(
    grant: DownloadGrant, file: MagnetFile, ip: str | None, user_agent: str | None
) -> None:
    """Note the download and count it as activity on the lead (the `download` scoring rule).

    On PostgreSQL one statement (the lead's UPDATE, its score history and the INSERT, as CTEs),
    so it is atomic on its own and a download can run in autocommit (see `links.download`).
    When the points could move the lead's stage (whose hooks run in Python), or elsewhere, the
    lead is loaded and scored by `score_activity` in one transaction.
    """
    now = utcnow()
    slug = grant.magnet.slug
    lead_id = grant.lead_id
    row = {
        "public_id": new_public_id("dl"),
        "grant_id": grant.id,
        "lead_id": lead_id,
        "magnet_id": grant.magnet_id,
        "file_id": file.id,
        "ip": ip,
        "user_agent": user_agent,
        "created_at": now,
    }
    points = download_points()
    event = f"magnet {slug} download {row['public_id']}"
    touch = (
        sa.update(Lead)
        .where(Lead.id == lead_id)
        .values(last_activity_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        _record_in_transaction(row, touch, points, event)
    elif not points:
        insert = sa.insert(Download).values(**row)
        returned = [Lead.id, *_async_commit()]
        db.session.execute(insert.add_cte(touch.returning(*returned).cte("touched")))
    else:
        params = {f"p_{name}": value for name, value in row.items()}
        params |= {"p_lead": lead_id, "p_at": now, "p_event": event}
        if db.session.execute(_scored_insert(points), params).first() is None:
            # Nothing was written: another download of the lead committed while this one
            # waited for its lock, or a stage move could be due. Again in a transaction that
            # takes the lock first, so the statement's snapshot comes after it and cannot be
            # stale; if it still refuses, a move is due and Python scores it.
            if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                db.session.rollback()  # the next statement begins a real transaction
            db.session.execute(sa.select(Lead.id).where(Lead.id == lead_id).with_for_update())
            if db.session.execute(_scored_insert(points), params).first() is None:
                _record_in_transaction(row, touch, points, event)
    metrics.count(DOWNLOADS, magnet=slug)


def _scored_insert(points: int) -> sa.Insert:
    """The download's one statement on PostgreSQL, built once per rule set (see scored_touch)."""
    rules = current_rules()
    cache = current_app.extensions.setdefault(SCORED_INSERT, {})
    asynchronous = _async_commit()
    key = (id(rules), points, bool(asynchronous))
    if key not in cache:
        touched, history = scored_touch(rules, points)
        table = table_of(Download)
        names = ["public_id", "grant_id", "lead_id", "magnet_id", "file_id", "ip", "user_agent"]
        values = sa.select(
            *(sa.bindparam(f"p_{name}", type_=table.c[name].type) for name in names),
            sa.bindparam("p_created_at", type_=table.c.created_at.type),
        ).where(sa.exists(sa.select(touched.c.id)), *(a.is_not(None) for a in asynchronous))
        cache[key] = (
            sa.insert(table)
            .from_select([*names, "created_at"], values)
            .add_cte(history)
            .returning(table.c.id)
        )
    return cache[key]


def _async_commit() -> list[sa.ColumnElement[str]]:
    """With `LEADGATE_DOWNLOAD_ASYNC_COMMIT=1`, an expression that turns `synchronous_commit`
    off for the statement's own transaction (autocommit: the statement is the transaction), so
    its commit does not wait for the disk. A crash may then lose the last fraction of a second
    of downloads; submissions and everything else stay durable."""
    if not current_app.config.get("DOWNLOAD_ASYNC_COMMIT"):
        return []
    return [sa.func.set_config("synchronous_commit", "off", sa.true())]


def _record_in_transaction(row: dict[str, Any], touch: sa.Update, points: int, event: str) -> None:
    """The download and its scoring through the ORM, in the caller's transaction."""
    if not points:
        db.session.execute(sa.insert(Download).values(**row))
        db.session.execute(touch)
        return
    # The lead's row lock first: the download's foreign key takes a KEY SHARE lock on the lead,
    # and two downloads holding that while each waits for FOR UPDATE would deadlock.
    lead = db.session.get(Lead, row["lead_id"], with_for_update=True, populate_existing=True)
    db.session.execute(sa.insert(Download).values(**row))
    if lead is None:
        return
    lead.last_activity_at = row["created_at"]
    score_activity(lead, ACTIVITY, event=event)


def renewals_since(grant: DownloadGrant, since: datetime) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(DownloadGrant)
            .where(DownloadGrant.renewed_from_id == grant.id, DownloadGrant.created_at >= since)
        )
        or 0
    )


def download_counts() -> dict[int, int]:
    """Downloads per magnet id, in one query for the back-office list."""
    rows = db.session.execute(
        sa.select(Download.magnet_id, sa.func.count()).group_by(Download.magnet_id)
    )
    return {magnet_id: count for magnet_id, count in rows}


def grant_counts() -> dict[int, int]:
    """Links issued per magnet id."""
    rows = db.session.execute(
        sa.select(DownloadGrant.magnet_id, sa.func.count()).group_by(DownloadGrant.magnet_id)
    )
    return {magnet_id: count for magnet_id, count in rows}
