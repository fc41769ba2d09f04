"""Partners: sites that embed our forms, and the server-side attribution of what they send.

A partner's origins say *who* a submission came from; a form's `allowed_origins` say *whether*
that site may embed and post the form at all. The two stay separate on purpose: allowing a
site is a decision about each form (versioned with it, exported with it), while attribution is
a fact about the site. A submission is attributed to a partner only when its verified `Origin`
is allowed on the form and belongs to that partner; whatever the page claims is ignored.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capture.base.db import Model, Timestamped, db
from capture.base.personal import NotPersonal
from capture.base.settled import settled, watch
from capture.forms.origins import is_allowed_origin, normalise_origin
from capture.forms.spec import SLUG_RE
from capture.forms.store import FormDefinition


class Partner(Timestamped, Model):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))

    __privacy__ = NotPersonal(keep=("slug", "name"), why="partner companies, not people")
    origins: Mapped[list[PartnerOrigin]] = relationship(
        back_populates="partner", cascade="all, delete-orphan", order_by="PartnerOrigin.origin"
    )


class PartnerOrigin(Model):
    """One site of a partner. Unique: an origin attributes to exactly one partner."""

    __tablename__ = "partner_origins"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    origin: Mapped[str] = mapped_column(sa.String(300), unique=True)

    __privacy__ = NotPersonal(keep=("origin",), why="a partner's web sites")
    partner: Mapped[Partner] = relationship(back_populates="origins")


watch(Partner)
watch(PartnerOrigin)


def _partner_origins() -> dict[str, str]:
    rows = db.session.execute(sa.select(PartnerOrigin.origin, Partner.slug).join(Partner))
    return {origin: slug for origin, slug in rows}


def partner_for_origin(form: FormDefinition, origin: str) -> str | None:
    """The partner whose site sent this, if that site is one the form lets in (from this
    process's cache of partner origins, `capture.base.settled`)."""
    if origin not in form.spec.allowed_origins:
        return None
    return settled("partner_origins", _partner_origins).get(origin)


class PartnerError(ValueError):
    """A partner that cannot be saved as asked; the message says why."""


def add_partner(slug: str, name: str, origins: list[str]) -> Partner:
    """Create a partner with its origins; adds and flushes, the caller commits."""
    if not SLUG_RE.match(slug):
        raise PartnerError(f"{slug!r} is not a slug (lower-case letters, digits and hyphens)")
    if not name.strip():
        raise PartnerError("a partner needs a name")
    if db.session.scalar(sa.select(Partner.id).where(Partner.slug == slug)) is not None:
        raise PartnerError(f"partner {slug!r} exists already")
    cleaned = []
    for origin in origins:
        if not is_allowed_origin(origin):
            raise PartnerError(f"{origin!r} is not an origin like https://www.example.com")
        cleaned.append(normalise_origin(origin))
    taken = db.session.execute(
        sa.select(PartnerOrigin.origin, Partner.slug)
        .join(Partner)
        .where(PartnerOrigin.origin.in_(cleaned))
    ).first()
    if taken is not None:
        raise PartnerError(f"{taken[0]} belongs to partner {taken[1]!r} already")
    partner = Partner(
        slug=slug,
        name=name.strip(),
        origins=[PartnerOrigin(origin=o) for o in dict.fromkeys(cleaned)],
    )
    db.session.add(partner)
    db.session.flush()
    return partner


partners_cli = AppGroup("partners", help="Partner sites that embed forms.")


@partners_cli.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The partner's name as people know it.")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="A site of the partner, like https://www.partner.example (repeatable).",
)
def add_command(slug: str, name: str, origins: tuple[str, ...]) -> None:
    """Add a partner; prints its slug. Also list its origins in the forms it may embed."""
    try:
        partner = add_partner(slug, name, list(origins))
    except PartnerError as exc:
        click.echo(f"cannot add partner: {exc}", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(partner.slug)


@partners_cli.command("list")
def list_command() -> None:
    """Print each partner: slug, name and origins, tab-separated."""
    for partner in db.session.scalars(sa.select(Partner).order_by(Partner.slug)):
        origins = " ".join(o.origin for o in partner.origins)
        click.echo(f"{partner.slug}\t{partner.name}\t{origins}")


def init_app(app: Flask) -> None:
    app.cli.add_command(partners_cli)
