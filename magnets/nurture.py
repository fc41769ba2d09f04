"""Nurture follow-ups: one marketing e-mail a set number of days after a magnet's download.

A magnet may have one `Nurture` (set in the back office or with `leadgate nurture import`):
after how many days, the subject and Markdown body per language, and what it points to next
(another magnet, whose link is a download grant that scores like any download, or a meeting
link). `NurtureSend` records each follow-up sent, one per lead and magnet at most.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capture.base.db import Model, db, new_public_id, utcnow
from capture.base.personal import ByLead, Export, NotPersonal, Personal, iso
from capture.web.i18n import LANGUAGES
from magnets.magnet import Magnet

MAX_AFTER_DAYS = 365
MAX_SUBJECT = 200
MAX_BODY = 20_000


class Nurture(Model):
    """The follow-up a magnet's downloaders get, if it has one."""

    __tablename__ = "magnet_nurtures"

    id: Mapped[int] = mapped_column(primary_key=True)
    magnet_id: Mapped[int] = mapped_column(
        sa.ForeignKey("magnets.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    after_days: Mapped[int] = mapped_column(default=3)
    # Per language ({"da": ..., "en": ...}); the lead's language, else the magnet's, else en.
    subject: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Markdown, sanitised when sent
    next_magnet_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("magnets.id", ondelete="SET NULL")
    )
    meeting_url: Mapped[str | None] = mapped_column(sa.String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    magnet: Mapped[Magnet] = relationship(foreign_keys=[magnet_id], lazy="joined")
    next_magnet: Mapped[Magnet | None] = relationship(foreign_keys=[next_magnet_id], lazy="joined")

    __privacy__ = NotPersonal(
        keep=("subject", "body", "meeting_url"), why="marketing copy written by marketers"
    )

    def text(self, field: str, language: str) -> str:
        """The subject or body in `language`, falling back to the magnet's language, then en,
        then any language written."""
        values: dict[str, Any] = getattr(self, field) or {}
        for code in (language, self.magnet.language, "en", *values):
            if values.get(code):
                return str(values[code])
        return ""

    def to_document(self) -> dict[str, Any]:
        """The YAML document `leadgate nurture export` prints and `import` reads."""
        document: dict[str, Any] = {
            "magnet": self.magnet.slug,
            "enabled": self.enabled,
            "after_days": self.after_days,
            "subject": dict(self.subject),
            "body": dict(self.body),
        }
        if self.next_magnet is not None:
            document["next_magnet"] = self.next_magnet.slug
        if self.meeting_url:
            document["meeting_url"] = self.meeting_url
        return document


class NurtureSend(Model):
    """One follow-up queued to one lead for one magnet: never a second (unique)."""

    __tablename__ = "nurture_sends"
    __table_args__ = (sa.UniqueConstraint("lead_id", "magnet_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("nur")
    )
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    magnet_id: Mapped[int] = mapped_column(sa.ForeignKey("magnets.id", ondelete="CASCADE"))
    next_grant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("download_grants.id", ondelete="SET NULL")
    )
    language: Mapped[str] = mapped_column(sa.String(5))
    message_id: Mapped[str | None] = mapped_column(sa.String(40))  # the outbox row's public id
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    # Nothing but which magnet's follow-up went to the lead and when: kept on erasure as a
    # count per magnet (the e-mail itself is in the outbox, emptied there).
    __privacy__ = Personal(
        find=(ByLead(),),
        keep=("public_id", "language", "message_id"),
        export=Export(
            "nurture_follow_ups",
            lambda s: {
                "id": s.public_id,
                "magnet_id": s.magnet_id,
                "language": s.language,
                "sent_at": iso(s.created_at),
            },
        ),
    )


def nurture_of(magnet: Magnet) -> Nurture | None:
    return db.session.scalar(sa.select(Nurture).where(Nurture.magnet_id == magnet.id))


def check_nurture(
    after_days: int, subject: dict[str, Any], body: dict[str, Any], meeting_url: str | None
) -> dict[str, str]:
    """Problems with a follow-up's values, by field (shared by the back office and the CLI)."""
    problems: dict[str, str] = {}
    if not 1 <= after_days <= MAX_AFTER_DAYS:
        problems["after_days"] = f"Use 1 to {MAX_AFTER_DAYS} days."
    for name, values, limit in (("subject", subject, MAX_SUBJECT), ("body", body, MAX_BODY)):
        if not isinstance(values, dict) or not values:
            problems[name] = "Write it in at least one language."
        elif any(k not in LANGUAGES or not isinstance(v, str) for k, v in values.items()):
            problems[name] = f"Give texts by language: {', '.join(LANGUAGES)}."
        elif any(len(v) > limit or not v.strip() for v in values.values()):
            problems[name] = f"Each text needs 1 to {limit} characters."
    if meeting_url:
        parts = urlsplit(meeting_url)
        if parts.scheme != "https" or not parts.netloc or len(meeting_url) > 500:
            problems["meeting_url"] = "Use an https:// address of at most 500 characters."
    return problems
