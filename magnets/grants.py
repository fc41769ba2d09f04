"""Download grants (a lead's right to a magnet, until it expires) and the downloads made with them.

A link carries only the grant's public id, signed for the DOWNLOAD purpose; whether it still
works is decided here from the row (expiry per magnet, revocation), so a marketer can revoke
a link and a lifetime change never needs a new signature scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from capture.base.db import Model, db, new_public_id, table_of, utcnow
from capture.base.driver import compiled, fetch_one
from capture.base.personal import NULL, ByLead, Export, Mask, Personal, iso
from capture.leads.lead import Lead
from capture.leads.scoring import seen_version, version_column
from capture.web.tokens import Purpose, sign
from capture.web.urls import public_url
from magnets.magnet import Magnet, MagnetFile, MagnetStatus

DOWNLOADS = "leadgate_downloads"
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


@dataclass(frozen=True, slots=True)
class Usable:
    """What a working link needs for its redirect and its record, read without the ORM."""

    grant_id: int
    lead_id: int
    magnet_id: int
    slug: str
    language: str
    file_id: int
    storage_key: str
    original_name: str
    content_type: str
    size: int


def _usable_read() -> sa.Select[Any]:
    """The read behind `usable_grant`, compiled once per process."""
    grants, magnets, files = table_of(DownloadGrant), table_of(Magnet), table_of(MagnetFile)
    return (
        sa.select(
            grants.c.id,
            grants.c.lead_id,
            grants.c.magnet_id,
            magnets.c.slug,
            grants.c.language,
            files.c.id,
            files.c.storage_key,
            files.c.original_name,
            files.c.content_type,
            files.c.size,
            grants.c.expires_at,
            grants.c.revoked_at,
            magnets.c.status,
            version_column(),
        )
        .select_from(grants)
        .join(magnets, magnets.c.id == grants.c.magnet_id)
        .outerjoin(files, files.c.id == magnets.c.current_file_id)
        .where(grants.c.public_id == sa.bindparam("p_public_id", type_=sa.String()))
    )


def usable_grant(connection: sa.Connection, public_id: str) -> Usable | None:
    """The grant behind a link that works now, with its magnet and current file, in one
    statement straight through the driver (`capture.base.driver`); the scoring version in force
    rides along, as in `find_grant`. None for anything else (unknown, revoked, expired, an
    archived or draft magnet, no file): `find_grant` and the full path answer those."""
    statement = compiled("magnets.usable_grant", _usable_read, connection.dialect)
    row = fetch_one(connection, statement, {"p_public_id": public_id})
    if row is None:
        return None
    seen_version(row[13])
    expires_at, revoked_at, status = row[10:13]
    if revoked_at is not None or status != MagnetStatus.PUBLISHED or row[5] is None:
        return None
    if utcnow() >= expires_at:
        return None
    return Usable(*row[:10])


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
