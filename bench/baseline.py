"""The bare baselines: a Flask + Flask-SQLAlchemy view that inserts one row into one table, a
bare Flask redirect, and a redirect that first inserts one row durably (the floor for a
recorded download).

It reads the same JSON body Leadgate gets and stores its e-mail, nothing else: no validation,
no tokens, no consent, no idempotency. Served by the same gunicorn settings against the same
database (its own schema), it is the floor that Leadgate's submission path is measured against.

    BASELINE_DATABASE_URL=postgresql+psycopg://... gunicorn 'bench.baseline:create_app()'
"""

from __future__ import annotations

import os
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "baseline"


class Base(DeclarativeBase):
    metadata = sa.MetaData(schema=SCHEMA)


db = SQLAlchemy(model_class=Base)


class Row(db.Model):
    __tablename__ = "rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BASELINE_DATABASE_URL"]
    db.init_app(app)

    @app.post("/submissions")
    def submit() -> ResponseReturnValue:
        payload = request.get_json()
        row = Row(email=payload["fields"]["email"])
        db.session.add(row)
        db.session.commit()
        return jsonify(id=row.id), 201

    @app.get("/redirect")
    def bare_redirect() -> ResponseReturnValue:
        """The floor for download links: a redirect, no database."""
        return redirect("https://bucket.bench.example/magnets/guide.pdf", 302)

    @app.get("/recorded")
    def recorded_redirect() -> ResponseReturnValue:
        """The floor for a recorded download: one row committed durably, then the redirect."""
        db.session.add(Row(email="download@bench.example"))
        db.session.commit()
        return redirect("https://bucket.bench.example/magnets/guide.pdf", 302)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return jsonify(status="ok")

    return app
