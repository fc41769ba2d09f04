"""A/B variants of a magnet's landing page: which exist, which one a view gets, who won.

A test is the magnet's own page (the control, a row without content of its own) against one or
more challengers, each with its own headline, body, button text and cover. Every view draws a
variant at random (nothing is stored on the visitor's device); the form carries its key in a
hidden `variant` field, so the conversion's attribution names it. "Make winner" copies the
winner's content into the page and ends the test. Keys are never reused for a magnet (`a`,
`b`, ... then `c`, `d` for the next test), so the counts of two tests never mix.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, db, utcnow
from capture.base.personal import NotPersonal
from magnets.magnet import Magnet

TEXT_KEYS = ("headline", "body", "cover_alt", "button")


class VariantStatus(StrEnum):
    ACTIVE = "active"
    WON = "won"
    RETIRED = "retired"


class LandingVariant(Model):
    """One version of a landing page in a test; the control's `texts` stay empty."""

    __tablename__ = "landing_variants"
    __table_args__ = (sa.UniqueConstraint("magnet_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    magnet_id: Mapped[int] = mapped_column(
        sa.ForeignKey("magnets.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(8))
    is_control: Mapped[bool] = mapped_column(default=False)
    # {language: {headline, body, cover_alt, button}}; what is missing comes from the page.
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cover_key: Mapped[str | None] = mapped_column(sa.String(200))
    cover_type: Mapped[str | None] = mapped_column(sa.String(40))
    cover_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(10), default=VariantStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    __privacy__ = NotPersonal(
        keep=("key", "texts", "cover_key", "cover_type", "cover_sha256", "status"),
        why="marketing copy written by marketers",
    )

    @property
    def label(self) -> str:
        return self.key.upper()

    def serves(self, language: str) -> bool:
        """A challenger runs in the languages it has copy for (or everywhere with a cover
        alone): a visitor never gets a variant that would show them the control's words."""
        if self.is_control:
            return True
        written = {lang for lang, texts in self.texts.items() if any(texts.values())}
        return language in written or (not written and bool(self.cover_key))


def variant_key(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa: short keys that read well in a report."""
    key = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        key = chr(ord("a") + rest) + key
    return key


def active_variants(magnet: Magnet) -> list[LandingVariant]:
    return list(
        db.session.scalars(
            sa.select(LandingVariant)
            .where(
                LandingVariant.magnet_id == magnet.id,
                LandingVariant.status == VariantStatus.ACTIVE,
            )
            .order_by(LandingVariant.id)
        )
    )


def add_challenger(magnet: Magnet, texts: dict[str, dict[str, str]]) -> LandingVariant:
    """A new challenger; the first of a test also starts the control. Adds and flushes."""
    used = db.session.scalar(
        sa.select(sa.func.count()).where(LandingVariant.magnet_id == magnet.id)
    )
    index = int(used or 0)
    if not active_variants(magnet):
        db.session.add(LandingVariant(magnet_id=magnet.id, key=variant_key(index), is_control=True))
        index += 1
    variant = LandingVariant(magnet_id=magnet.id, key=variant_key(index), texts=texts)
    db.session.add(variant)
    db.session.flush()
    return variant


def pick_variant(magnet: Magnet, language: str) -> LandingVariant | None:
    """The variant this view shows: uniformly at random among those that serve `language`;
    None when no test runs (or only the control would serve it)."""
    serving = [v for v in active_variants(magnet) if v.serves(language)]
    if len(serving) < 2:
        return None
    return secrets.choice(serving)


def make_winner(magnet: Magnet, winner: LandingVariant) -> str | None:
    """End the test with `winner`: its content becomes the page, the others are retired.

    Returns the page's previous cover key when the winner brought its own cover, for the
    caller to delete after commit."""
    previous_cover = None
    if not winner.is_control:
        texts = {lang: dict(values) for lang, values in (magnet.texts or {}).items()}
        for language, values in winner.texts.items():
            for name, value in values.items():
                if not value:
                    continue
                if language == magnet.language and name == "headline":
                    magnet.headline = value
                elif language == magnet.language and name == "body":
                    magnet.description = value
                else:
                    texts.setdefault(language, {})[name] = value
        magnet.texts = texts
        if winner.cover_key:
            previous_cover = magnet.cover_key
            magnet.cover_key, magnet.cover_type = winner.cover_key, winner.cover_type
            magnet.cover_sha256 = winner.cover_sha256
    now = utcnow()
    for variant in active_variants(magnet):
        variant.status = VariantStatus.WON if variant.id == winner.id else VariantStatus.RETIRED
        variant.ended_at = now
    db.session.flush()
    return previous_cover


def variant_by_key(magnet: Magnet, key: str) -> LandingVariant | None:
    return db.session.scalar(
        sa.select(LandingVariant).where(
            LandingVariant.magnet_id == magnet.id, LandingVariant.key == key[:8]
        )
    )
