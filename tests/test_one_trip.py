"""The submission's writes in few statements (capture/base/one_trip.py, capture/submissions/
claim.py): the same rows as the ORM's flush would write, in fewer round trips on PostgreSQL,
and the ordinary flush wherever the short way does not apply (SQLite, deletes)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError

from capture import extension_points
from capture.accounts.user import User
from capture.base.db import db, fresh, new_public_id
from capture.base.one_trip import attach, commit_in_one_trip, flush_in_one_trip
from capture.forms.store import settled_form
from capture.leads.consent import ConsentRecord
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange
from capture.submissions.intake import build_intake
from capture.submissions.record import record_submission
from capture.submissions.submission import Submission
from wsgi import create_app


def _writes(statements: list[str]) -> list[str]:
    """The INSERT, UPDATE and WITH statements among those sent."""
    return [
        s for s in statements if s.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "WITH"}
    ]


def _pending_move(lead: Lead, conversion: ConversionEvent) -> StageChange:
    """A stage change added to the session by hand, not yet flushed."""
    change = StageChange(
        lead_id=lead.id,
        from_stage="mql",
        to_stage="sql",
        reason="test",
        actor="test",
        conversion_id=conversion.id,
    )
    db.session.add(change)
    return change


def _postgres(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def test_a_submission_is_two_write_statements_on_postgresql(app, make_form, submit, statements):
    make_form()
    assert submit("test-form", {"email": "warm@firma.dk"}).status_code == 201
    statements.clear()
    answer = submit("test-form", {"email": "ny@firma.dk"}, {"processing": True, "marketing": True})
    assert answer.status_code == 201
    if _postgres(app):
        # claim + lead (drawing the ids of the conversion and the consent records), then
        # records, conversion, stage, score, lead and answer
        assert len(_writes(statements)) == 2, statements
    else:
        assert len(_writes(statements)) > 3  # SQLite: the ORM's flush, one statement per row
    with app.app_context():
        lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ny@firma.dk"))
        assert lead is not None and lead.lifecycle_stage == "mql" and lead.score > 0
        submission = db.session.scalar(
            sa.select(Submission).where(Submission.public_id == answer.get_json()["submission"])
        )
        assert submission.lead_id == lead.id
        assert submission.response == answer.get_json()
        changes = db.session.scalars(sa.select(StageChange).where(StageChange.lead_id == lead.id))
        conversion = db.session.scalar(
            sa.select(ConversionEvent).where(ConversionEvent.submission_id == submission.id)
        )
        assert [(c.from_stage, c.to_stage, c.conversion_id) for c in changes] == [
            ("lead", "mql", conversion.id)
        ]
        records = db.session.scalars(
            sa.select(ConsentRecord).where(ConsentRecord.submission_id == submission.id)
        ).all()
        assert sorted((r.purpose, r.lead_id) for r in records) == [
            ("marketing", lead.id),
            ("processing", lead.id),
        ]


def test_a_replayed_key_writes_no_lead(app, client, make_form, submit):
    make_form()
    headers = {"Idempotency-Key": "k-1"}
    token = client.get("/api/v1/forms/test-form").get_json()["token"]  # one body, sent twice
    first = submit("test-form", {"email": "ane@firma.dk"}, headers=headers, token=token)
    again = submit("test-form", {"email": "ane@firma.dk"}, headers=headers, token=token)
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert again.get_json() == first.get_json()
    other = submit("test-form", {"email": "bo@firma.dk"}, headers=headers, token=token)
    assert other.status_code == 409  # the key was used with another body
    with app.app_context():
        emails = db.session.scalars(sa.select(Lead.email).order_by(Lead.email)).all()
        assert emails == ["ane@firma.dk"]  # the conflicting body made no lead


def test_flush_in_one_trip_writes_what_a_flush_would(app, make_form, submit, statements):
    make_form()
    assert submit("test-form", {"email": "ane@firma.dk"}).status_code == 201
    with app.app_context():
        lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
        before = lead.updated_at
        conversion = db.session.scalar(sa.select(ConversionEvent))
        lead.company = "Firma ApS"
        lead.lifecycle_stage = "sql"
        change = _pending_move(lead, conversion)
        statements.clear()
        flush_in_one_trip()
        assert len(_writes(statements)) == (1 if _postgres(app) else 2)
        assert change.id is not None and change.created_at is not None
        assert lead.updated_at > before  # the column's onupdate, as a flush applies it
        assert not db.session.new and not db.session.dirty
        db.session.commit()
        assert len(_writes(statements)) == (
            1 if _postgres(app) else 2
        )  # the commit had nothing left
        db.session.expire_all()
        again = db.session.get(Lead, lead.id)
        assert (again.company, again.lifecycle_stage) == ("Firma ApS", "sql")
        assert db.session.get(StageChange, change.id).reason == "test"


def test_a_row_deleted_meanwhile_is_not_silently_updated(app):
    if not _postgres(app):
        pytest.skip("SQLite takes the ORM's flush, which has its own check")
    with app.app_context():
        lead = Lead(public_id=new_public_id("lead"), email="ane@firma.dk", first_touch={})
        db.session.add(lead)
        db.session.commit()
        lead = db.session.get(Lead, lead.id)
        lead.company = "Gone ApS"
        # Deleted behind the session's back (as another transaction could have, before ours).
        table = Lead.__table__
        db.session.connection().execute(sa.delete(table).where(table.c.id == lead.id))
        with pytest.raises(StaleDataError):
            flush_in_one_trip()
        db.session.rollback()


def test_a_pending_delete_takes_the_ordinary_flush(app, make_form, submit, statements):
    make_form()
    assert submit("test-form", {"email": "ane@firma.dk"}).status_code == 201
    with app.app_context():
        change = db.session.scalar(sa.select(StageChange))
        lead = db.session.get(Lead, change.lead_id)
        db.session.delete(change)
        lead.company = "Firma ApS"
        statements.clear()
        flush_in_one_trip()
        assert not [w for w in _writes(statements) if w.lstrip().upper().startswith("WITH")]
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StageChange)) == 0


def test_rows_written_in_one_trip_roll_back_as_flushed_rows_do(app, make_form, submit):
    """New rows leave the session and changed ones are expired, as after a flush."""
    make_form()
    assert submit("test-form", {"email": "ane@firma.dk"}).status_code == 201
    with app.app_context():
        lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
        conversion = db.session.scalar(sa.select(ConversionEvent))
        lead.company = "Firma ApS"
        change = _pending_move(lead, conversion)
        flush_in_one_trip()
        assert sa.inspect(change).persistent and sa.inspect(lead).persistent
        assert change in db.session and not sa.inspect(lead).modified
        db.session.rollback()
        assert sa.inspect(change).transient  # the INSERT was undone: no row behind it
        assert sa.inspect(lead).persistent and "company" in sa.inspect(lead).expired_attributes
        assert lead.company is None  # read again: the UPDATE was undone
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StageChange)) == 1


@pytest.mark.parametrize("last", [False, True])
def test_the_last_commit_of_a_request_expires_nothing(app, make_form, submit, last):
    """A commit expires what the session holds, so whoever reads it next sees other
    transactions' changes; the request that has made its answer (`last`) skips that, and
    the session expires on its next commits as before."""
    make_form()
    assert submit("test-form", {"email": "ane@firma.dk"}).status_code == 201
    with app.app_context():
        lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
        lead.company = "Firma ApS"
        commit_in_one_trip(last=last)
        assert bool(sa.inspect(lead).expired_attributes) is not last
        assert lead.company == "Firma ApS"  # written either way
        assert db.session().expire_on_commit
        db.session.commit()
        assert "company" in sa.inspect(lead).expired_attributes


def test_a_fresh_row_is_what_its_constructor_makes(app, make_form, submit):
    """`fresh` skips the attribute events: the ORM's flush (SQLite) and the one statement
    (PostgreSQL) write what it holds all the same; a name that is no column is refused."""
    make_form()
    assert submit("test-form", {"email": "ane@firma.dk"}).status_code == 201
    with app.app_context():
        lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
        made = fresh(StageChange, lead_id=lead.id, from_stage="mql", to_stage="sql")
        made.reason, made.actor = "test", "test"  # set afterwards: tracked as usual
        db.session.add(made)
        flush_in_one_trip()
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(StageChange, made.id)
        assert (stored.lead_id, stored.to_stage, stored.reason) == (lead.id, "sql", "test")
        assert stored.created_at is not None  # client-side default applied
        with pytest.raises(TypeError, match="lead"):
            fresh(StageChange, lead=lead)  # not a column


def _states(rows: list[object]) -> list[tuple[str, ...]]:
    """Each row's state in the session, as `Session.add` would have left it."""
    names = ("transient", "pending", "persistent", "detached")
    return [
        (
            *(name for name in names if getattr(sa.inspect(row), name)),
            str(row in db.session),
            str(row in db.session.new),
        )
        for row in rows
    ]


def test_attach_leaves_the_states_session_add_leaves(app, make_form, submit):
    """`attach` skips the cascade walk only where it would find nothing: a new row becomes
    pending, a detached one persistent, and a row with a related object set takes that
    object along, as `Session.add` does with each."""
    make_form()
    assert submit("test-form", {"email": "ane@firma.dk"}).status_code == 201
    with app.app_context():
        lead_id = db.session.scalar(sa.select(Lead.id))

    def rows() -> list[object]:
        detached = db.session.get(Lead, lead_id)
        db.session.expunge(detached)
        new = fresh(StageChange, lead_id=lead_id, from_stage="mql", to_stage="sql")
        related = Lead(email="ny@firma.dk", public_id=new_public_id("lead"))
        related.owner = User(email="salg@firma.dk", role="sales")
        return [detached, new, related, related.owner]

    seen = []
    for put in (db.session.add, attach):
        with app.app_context():
            made = rows()
            for row in made[:3]:
                put(row)
            seen.append(_states(made))
            db.session.rollback()
    assert seen[0] == seen[1]
    assert seen[1] == [
        ("persistent", "True", "False"),
        ("pending", "True", "True"),
        ("pending", "True", "True"),
        ("pending", "True", "True"),  # cascaded from the row that points at it
    ]


def _lead_updates() -> tuple[int, int]:
    """This transaction's updates of `leads` rows so far: all, and those made in place (HOT)."""
    counts = db.session.execute(
        sa.text(
            "SELECT pg_stat_get_xact_tuples_updated('leads'::regclass), "
            "pg_stat_get_xact_tuples_hot_updated('leads'::regclass)"
        )
    ).one()
    return counts[0], counts[1]


@pytest.mark.parametrize(
    ("fields", "double_opt_in", "stage"),
    [
        ({"email": "ny@firma.dk", "first_name": "Åse", "company": "Firma ApS"}, False, "mql"),
        ({"email": "ny@firma.dk"}, True, "lead"),  # held: no stage move until confirmed
    ],
)
def test_a_new_lead_is_updated_in_place(app, make_form, client, fields, double_opt_in, stage):
    """The claim inserts a new lead with the profile and stage the submission gives it, so the
    UPDATE that ends the submission touches no indexed column: PostgreSQL rewrites the row on
    its page (HOT) instead of adding an entry to each of the lead's indexes. The lead, its
    history and its events are those of a lead created blank and then filled in."""
    if not _postgres(app):
        pytest.skip("HOT updates are PostgreSQL's")
    extra = [{"name": name, "type": "text"} for name in ("first_name", "company")]
    make_form(
        conversion="ebook_download",
        fields=[{"name": "email", "type": "email", "required": True}, *extra],
        double_opt_in=double_opt_in,
    )
    token = client.get("/api/v1/forms/test-form").get_json()["token"]
    body = {"fields": fields, "consents": {"processing": True}, "token": token}
    moves = []
    with app.test_request_context("/api/v1/forms/test-form/submissions", method="POST", json=body):
        extension_points.stage_moved.connect(app, lambda moved: moves.append(moved))
        intake = build_intake(
            settled_form("test-form"), "api", "en", fields, {"processing": True}, {}, token
        )
        outcome = record_submission(intake)
        assert _lead_updates() == (1, 1)
        lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ny@firma.dk"))
        assert outcome.body["lifecycle_stage"] == lead.lifecycle_stage == stage
        assert (lead.first_name, lead.company) == (fields.get("first_name"), fields.get("company"))
        history = db.session.scalars(sa.select(StageChange).where(StageChange.lead_id == lead.id))
        expected = [("lead", "mql")] if stage == "mql" else []
        assert [(c.from_stage, c.to_stage) for c in history] == expected
        assert [(m.change.from_stage, m.change.to_stage) for m in moves] == expected
        db.session.rollback()


def test_a_fresh_submission_is_two_round_trips_on_the_wire(
    app, app_config, make_form, counting_relay
):
    """BEGIN goes in one write with the claim (capture.base.wire), COMMIT in one with the final
    writes: counted by a relay between the app and PostgreSQL, not by the app's own events."""
    if not _postgres(app):
        pytest.skip("the wire path is PostgreSQL's")
    make_form()
    url = sa.make_url(app_config["SQLALCHEMY_DATABASE_URI"])
    relayed = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": url.set(port=counting_relay.port)}
    )
    client = relayed.test_client()
    for n, expected in enumerate([None, 2, 2]):  # the first fills the process's caches
        token = client.get("/api/v1/forms/test-form").get_json()["token"]
        body = {"fields": {"email": f"p{n}@firma.dk"}, "consents": {"processing": True}}
        before = counting_relay.round_trips
        answer = client.post("/api/v1/forms/test-form/submissions", json={**body, "token": token})
        assert answer.status_code == 201
        if expected is not None:
            assert counting_relay.round_trips - before == expected
    with relayed.app_context():
        db.engine.dispose()
