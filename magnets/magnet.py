"""Magnets and the history of their files: what a lead gets in exchange for contact details.

A magnet points at its current file; replacing the file adds a `MagnetFile` and moves the
pointer, so the history stays and links issued earlier deliver whatever is current.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capture.base.db import Model, Timestamped, db, new_public_id, utcnow
from capture.base.personal import NotPersonal
from capture.forms.spec import SLUG_RE
from capture.web.i18n import LANGUAGES

DEFAULT_LINK_LIFETIME_DAYS = 7
MAX_LINK_LIFETIME_DAYS = 365


class MagnetKind(StrEnum):
    WHITEPAPER = "whitepaper"
    EBOOK = "ebook"
    TEMPLATE = "template"
    CHECKLIST = "checklist"
    TOOL = "tool"
    REPORT = "report"
    OTHER = "other"


class MagnetStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class MagnetFile(Model):
    """One uploaded version of a magnet's file; rows are kept when the file is replaced."""

    __tablename__ = "magnet_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    magnet_id: Mapped[int] = mapped_column(
        sa.ForeignKey("magnets.id", ondelete="CASCADE"), index=True
    )
    # Random, never derived from the name: nothing a user typed reaches a path or a bucket key.
    storage_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(120))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by: Mapped[str | None] = mapped_column(sa.String(200))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __privacy__ = NotPersonal(
        keep=("storage_key", "original_name", "content_type", "sha256", "uploaded_by"),
        why="marketing material; uploaded_by is a staff account, not a lead",
    )


class Magnet(Timestamped, Model):
    __tablename__ = "magnets"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("mag")
    )
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    # Markdown; rendered with markdown-it-py and sanitised with nh3 on the landing page.
    description: Mapped[str] = mapped_column(sa.Text, default="")
    kind: Mapped[str] = mapped_column(sa.String(20), default=MagnetKind.EBOOK)
    language: Mapped[str] = mapped_column(sa.String(5), default="en")
    status: Mapped[str] = mapped_column(sa.String(20), default=MagnetStatus.DRAFT, index=True)
    link_lifetime_days: Mapped[int] = mapped_column(default=DEFAULT_LINK_LIFETIME_DAYS)
    headline: Mapped[str | None] = mapped_column(sa.String(300))
    noindex: Mapped[bool] = mapped_column(default=False)
    cover_key: Mapped[str | None] = mapped_column(sa.String(200))
    cover_type: Mapped[str | None] = mapped_column(sa.String(40))
    cover_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # use_alter breaks the magnets <-> magnet_files cycle for CREATE TABLE ordering.
    current_file_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(
            "magnet_files.id",
            ondelete="SET NULL",
            use_alter=True,
            name="fk_magnets_current_file_id_magnet_files",
        )
    )
    published_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    # The landing page in other languages, cover alt and button texts (magnets.copy).
    texts: Mapped[dict[str, Any] | None]

    __privacy__ = NotPersonal(
        keep=("public_id", "slug", "title", "description", "kind", "language", "status",
              "headline", "cover_key", "cover_type", "cover_sha256", "texts"),
        why="marketing material written by marketers",
    )  # fmt: skip

    current_file: Mapped[MagnetFile | None] = relationship(
        foreign_keys=[current_file_id], post_update=True, lazy="joined"
    )
    files: Mapped[list[MagnetFile]] = relationship(
        foreign_keys=[MagnetFile.magnet_id],
        order_by=lambda: MagnetFile.id.desc(),
        cascade="all, delete-orphan",
        passive_deletes=True,
        viewonly=False,
    )

    @property
    def is_published(self) -> bool:
        return self.status == MagnetStatus.PUBLISHED

    @property
    def display_headline(self) -> str:
        return self.headline or self.title

    def publish(self) -> None:
        """Only a magnet with a file can be published: a link must always have something."""
        if self.current_file_id is None and self.current_file is None:
            raise MagnetError("Upload a file before publishing.")
        self.status = MagnetStatus.PUBLISHED
        self.published_at = self.published_at or utcnow()
        self.archived_at = None

    def archive(self) -> None:
        """Archived magnets answer 410 on their landing page and on every link issued."""
        self.status = MagnetStatus.ARCHIVED
        self.archived_at = utcnow()


class MagnetError(ValueError):
    """A change to a magnet that its rules refuse; the message is shown to the marketer."""


def get_magnet(slug: str) -> Magnet | None:
    return db.session.scalar(sa.select(Magnet).where(Magnet.slug == slug))


def published_magnet(slug: str) -> Magnet | None:
    magnet = get_magnet(slug)
    return magnet if magnet is not None and magnet.is_published else None


_TRANSLITERATE = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ß": "ss"})


def slugify(text: str) -> str:
    """A URL slug from a title, Scandinavian letters spelled out rather than dropped."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLITERATE))
    text = text.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:70].strip("-")
    return slug or "magnet"


def unique_slug(title: str) -> str:
    base = slugify(title)
    slug, n = base, 1
    while get_magnet(slug) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def check_fields(
    slug: str, title: str, kind: str, language: str, lifetime_days: int
) -> dict[str, str]:
    """Problems with a magnet's editable values, by field name (shared by CLI and back office)."""
    problems: dict[str, str] = {}
    if not SLUG_RE.match(slug or ""):
        problems["slug"] = "Use 1-80 lower-case letters, digits and hyphens."
    if not title or not title.strip() or len(title) > 200:
        problems["title"] = "A title of 1-200 characters is required."
    if kind not in set(MagnetKind):
        problems["kind"] = f"Use one of {', '.join(MagnetKind)}."
    if language not in LANGUAGES:
        problems["language"] = f"Use one of {', '.join(LANGUAGES)}."
    if not 1 <= lifetime_days <= MAX_LINK_LIFETIME_DAYS:
        problems["link_lifetime_days"] = f"Use 1 to {MAX_LINK_LIFETIME_DAYS} days."
    return problems
