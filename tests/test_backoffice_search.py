"""The lead list's text search: what it finds on every backend, and on PostgreSQL that the
trigram indexes answer it (without them it reads every lead, seconds at a million)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from capture.backoffice import search
from capture.base.db import db, new_public_id
from capture.leads.lead import SEARCHED_COLUMNS, Lead

PEOPLE = [
    # e-mail, first name, last name, company
    ("soren.aero@firma.dk", "Søren", "Ærøskøbing", "Østergaard Å/S"),
    ("bo@andet.se", "Bo", "Lind", "Andet AB"),
    ("ane@firma.dk", "Ane", "Kjær", "Firma ApS"),
    ("li@kunde.no", "Li", "Ng", "100%_Kunde"),
]


@pytest.fixture
def people(app):
    for email, first, last, company in PEOPLE:
        db.session.add(
            Lead(
                public_id=new_public_id("lead"),
                email=email,
                first_name=first,
                last_name=last,
                company=company,
            )
        )
    db.session.commit()


def found(text: str) -> list[str]:
    wanted = search.from_args(MultiDict({"q": text}))
    leads, _ = search.page(wanted, None)
    return sorted(lead.email for lead in leads)


@pytest.mark.parametrize(
    ("text", "emails"),
    [
        ("firma.dk", ["ane@firma.dk", "soren.aero@firma.dk"]),  # the e-mail's domain
        ("FIRMA.DK", ["ane@firma.dk", "soren.aero@firma.dk"]),
        ("ørE", ["soren.aero@firma.dk"]),  # a fragment of a first name
        ("kjæ", ["ane@firma.dk"]),  # of a last name
        ("ÆRØ", ["soren.aero@firma.dk"]),  # case-insensitive for Danish letters too
        ("ærøskøbing", ["soren.aero@firma.dk"]),
        ("østergaard å/s", ["soren.aero@firma.dk"]),  # a company, with the LIKE escape in it
        ("nde", ["bo@andet.se", "li@kunde.no"]),  # a company or an e-mail
        ("  ane@  ", ["ane@firma.dk"]),  # surrounding blanks ignored
        ("0%_k", ["li@kunde.no"]),  # LIKE wildcards are plain characters
        ("a_e", []),
        ("nobody", []),
    ],
)
def test_contains_over_email_names_and_company(app_context, people, text, emails):
    assert found(text) == emails


@pytest.mark.parametrize(
    ("text", "emails"),
    [
        ("bo", ["bo@andet.se"]),  # starts the e-mail and the first name
        ("Ø", ["soren.aero@firma.dk"]),  # the company starts with it
        ("ng", ["li@kunde.no"]),  # the whole last name
        ("nd", []),  # inside "andet", "Lind" and "kunde" only: no trigram, so no contains
        ("%", []),
        ("ma", []),
    ],
)
def test_one_or_two_characters_match_the_start(app_context, people, text, emails):
    assert found(text) == emails


def plan(statement: sa.Select) -> str:
    """EXPLAIN of `statement` as the app sends it (same SQL, the values as parameters)."""
    compiled = statement.compile(dialect=db.engine.dialect)
    connection = db.session.connection()
    # The table is tiny, so reading it all would win on cost; forbid that (and walking the
    # primary key) to see whether the indexes can answer the search at all.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_indexscan = off")
    rows = connection.exec_driver_sql(f"EXPLAIN {compiled.string}", compiled.params).all()
    db.session.rollback()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("text", ["firma.dk", "Kjær", "bo"])
def test_postgresql_answers_the_search_from_the_trigram_indexes(app_context, people, text):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's; set TEST_DATABASE_URL")
    wanted = search.from_args(MultiDict({"q": text}))
    explained = plan(search.page_statement(wanted, None))
    for column in SEARCHED_COLUMNS:
        assert f"Bitmap Index Scan on ix_leads_{column}_trgm" in explained, explained
    assert "Seq Scan" not in explained, explained


def test_postgresql_plans_each_search_for_its_text(app_context, people):
    """A generic plan of a prepared search walks every lead when the text is rare."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("plan caching is PostgreSQL's; set TEST_DATABASE_URL")
    search.page(search.from_args(MultiDict({"q": "firma"})), None)
    mode = db.session.scalar(sa.text("SHOW plan_cache_mode"))
    db.session.rollback()
    assert mode == "force_custom_plan"
    assert db.session.scalar(sa.text("SHOW plan_cache_mode")) == "auto"  # this transaction only
