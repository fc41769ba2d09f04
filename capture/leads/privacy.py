"""GDPR for one person: everything we hold about them (Art. 15/20) and erasure (Art. 17).

Both are derived from the privacy map (`capture.base.personal`): every model declares beside its
columns how to find a person's rows and what erasure does to each personal column, so this
module knows no table by name and a new table cannot be forgotten (tests/test_privacy_map.py).

Erasure keeps only anonymous counts: the lead row stays as a husk (stage, score, partner,
dates; no name, no address) so funnels and reports still add up, and a `Suppression` keeps a
keyed hash (HMAC with SUPPRESSION_KEY) of the address, so the same address can be recognised
and refused where no new consent is given (a quarantine release, an API event). See
docs/privacy.md.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, db, utcnow
from capture.base.personal import Declaration, NotPersonal, Person, Personal
from capture.extension_points import Erased, lead_erased
from capture.forms.values import normalise_email
from capture.leads.consent import erasing
from capture.leads.lead import Lead


class Suppression(Model):
    """What is left of an erased person: a keyed hash of the address, recognised on return.

    Rows from before keyed hashes have no `email_hmac` (the plain SHA-256 was dropped, see
    docs/privacy.md): they still count erasures but match no address.
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hmac: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    lead_public_id: Mapped[str] = mapped_column(sa.String(40))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)

    __privacy__ = NotPersonal(
        keep=("email_hmac", "lead_public_id"),
        why="a keyed hash: without SUPPRESSION_KEY it cannot be matched to any address",
    )


class Suppressed(ValueError):
    """The address belongs to a person who was erased; the message says what to do instead."""

    def __init__(self) -> None:
        super().__init__(
            _(
                "This address belongs to a person who asked to be erased. It can only come "
                "back through a new form submission with the person's consent."
            )
        )


def _normalised(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError:
        return email.strip().lower()


def email_key(email: str) -> str:
    """The suppression key of an address: HMAC-SHA256 with SUPPRESSION_KEY, not a plain hash
    that anyone with a list of addresses could reverse."""
    secret = str(current_app.config["SUPPRESSION_KEY"]).encode()
    return hmac.new(secret, _normalised(email).encode(), hashlib.sha256).hexdigest()


def was_erased(email: str) -> bool:
    """True when this address belonged to a person who asked to be erased."""
    digest = email_key(email)
    count = db.session.scalar(
        sa.select(sa.func.count(Suppression.id)).where(Suppression.email_hmac == digest)
    )
    return bool(count)


def refuse_suppressed(email: str) -> None:
    """Raise `Suppressed` when `email` was erased and has not come back as a lead since.

    For every way a lead appears without the person giving consent anew: a quarantine
    release, an API event. A new form submission with consent is a new lead and is allowed.
    """
    if not was_erased(email):
        return
    live = db.session.scalar(
        sa.select(sa.func.count(Lead.id)).where(
            Lead.email == _normalised(email), Lead.erased_at.is_(None)
        )
    )
    if not live:
        raise Suppressed


def privacy_map() -> Iterator[tuple[Any, Declaration | None]]:
    """Every mapped model with its declaration (None: it declared nothing), by table name."""
    models = sorted(
        (m.class_ for m in Model.registry.mappers), key=lambda model: model.__tablename__
    )
    for model in models:
        yield model, model.__dict__.get("__privacy__")


def _personal() -> Iterator[tuple[Any, Personal]]:
    for model, declaration in privacy_map():
        if isinstance(declaration, Personal):
            yield model, declaration


def _person(lead: Lead) -> Person:
    return Person(lead.id, lead.public_id, lead.email)


def _rows(model: Any, declaration: Personal, person: Person) -> list[Any]:
    where = sa.or_(*(finder.where(model, person) for finder in declaration.find))
    key = model.__mapper__.primary_key[0]
    return list(db.session.scalars(sa.select(model).where(where).order_by(key)))


def personal_data(lead: Lead) -> dict[str, Any]:
    """Everything about one person, as plain JSON-ready data: one section per table."""
    person = _person(lead)
    data: dict[str, Any] = {}
    for model, declaration in _personal():
        export = declaration.export
        if export is None:
            continue
        rows = [export.row(row) for row in _rows(model, declaration, person)]
        data[export.section] = (rows[0] if rows else None) if export.single else rows
    return data


def erase(lead: Lead, actor: str) -> Suppression:
    """Remove the person's personal data everywhere; keep anonymous counts and a suppression.

    Every row the map finds for the person (by lead, by address, by mention) is found first,
    with the address still known, then deleted or overwritten as its model declares. Adds and
    flushes; the caller commits.
    """
    person = _person(lead)
    now = utcnow()
    found = [(d, _rows(model, d, person)) for model, d in _personal()]
    with erasing(db.session()):
        for declaration, rows in found:
            _erase(declaration, rows)
        db.session.flush()
    lead.erased_at = now
    digest = email_key(person.email)
    suppression = db.session.scalar(sa.select(Suppression).where(Suppression.email_hmac == digest))
    if suppression is None:
        suppression = Suppression(email_hmac=digest, lead_public_id=lead.public_id)
        db.session.add(suppression)
    suppression.erased_at = now
    lead_erased.send(Erased(lead_public_id=lead.public_id, actor=actor))
    db.session.flush()
    return suppression


def _erase(declaration: Personal, rows: list[Any], only: tuple[str, ...] | None = None) -> None:
    for row in rows:
        if declaration.delete and only is None:
            db.session.delete(row)
            continue
        actions = {n: a for n, a in declaration.erase.items() if only is None or n in only}
        values = {name: action.value(row) for name, action in actions.items()}
        for name, value in values.items():
            setattr(row, name, value)


def erase_rows(model: Any, rows: list[Any], only: tuple[str, ...] | None = None) -> None:
    """Erase these rows of `model` as its declaration says, without a person (retention:
    quarantined submissions, old IP addresses); `only` limits it to those columns. Flushes."""
    declaration = model.__dict__.get("__privacy__")
    if not isinstance(declaration, Personal):
        raise TypeError(f"{model.__tablename__} declares no personal data")
    with erasing(db.session()):
        _erase(declaration, rows, only)
        db.session.flush()


def find_lead(email_or_id: str) -> Lead | None:
    """A live lead by public id or address (for `leadgate leads erase`)."""
    where = (
        Lead.public_id == email_or_id
        if "@" not in email_or_id
        else Lead.email == _normalised(email_or_id)
    )
    return db.session.scalar(sa.select(Lead).where(where, Lead.erased_at.is_(None)))
