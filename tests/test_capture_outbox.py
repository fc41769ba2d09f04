"""The outbox against a real SMTP server: outages, backoff, leases, giving up, two workers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from helpers import ON_POSTGRES

from capture.base.db import db, utcnow
from capture.delivery.outbox import OutboxMessage, enqueue, enqueue_email
from capture.extension_points import outbox_senders
from capture.ops.worker import DrainResult, claim, deliver, drain, stop_in_process
from wsgi import create_app

DOI = {"processing": True, "marketing": True}

UNSUBSCRIBE = "https://x/u/tok"  # every e-mail to a lead carries one


@pytest.fixture
def app_config(app_config, smtp_server):
    return {**app_config, "MAIL_URL": smtp_server.url, "MAIL_TIMEOUT_SECONDS": 5}


@pytest.fixture
def doi_form(make_form):
    return make_form(slug="doi", double_opt_in=True)


def rows():
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def queue_emails(app, count, prefix="reader"):
    with app.test_request_context():
        for n in range(count):
            enqueue_email(
                f"{prefix}{n}@firma.dk",
                "confirm",
                "en",
                {"confirm_url": "https://x/c/1"},
                unsubscribe_url=UNSUBSCRIBE,
            )
        db.session.commit()


def message_ids(messages):
    return [str(m["Message-ID"]) for m in messages]


def test_smtp_outage_keeps_rows_pending_then_delivers_each_once(
    app_context, app, runner, doi_form, submit, smtp_server
):
    smtp_server.stop()
    for n in range(4):
        response = submit("doi", {"email": f"p{n}@firma.dk"}, DOI)
        assert response.status_code == 201  # the outage never reaches the visitor
        assert response.get_json()["confirmation_required"] is True

    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "0 sent, 4 to retry, 0 gave up" in result.stdout
    first = rows()
    assert len(first) == 4
    started = utcnow()
    for row in first:
        assert row.status == "pending" and row.attempts == 1 and row.sent_at is None
        assert "Connection refused" in row.last_error or "ConnectionRefused" in row.last_error
        # Backoff: attempt 1 waits half to all of the 30 s base step.
        wait = (row.next_attempt_at - started).total_seconds()
        assert 10 <= wait <= 31

    # Still down at the next attempt: the wait roughly doubles.
    later = max(row.next_attempt_at for row in first)
    assert drain(now=later).retrying == 4
    for row in rows():
        assert row.attempts == 2 and row.status == "pending"
        assert 29 <= (row.next_attempt_at - later).total_seconds() <= 61

    smtp_server.start()
    assert smtp_server.messages == []
    result = drain(now=utcnow() + timedelta(hours=1))
    assert (result.sent, result.retrying, result.dead) == (4, 0, 0)
    delivered = rows()
    assert all(row.status == "sent" and row.sent_at is not None for row in delivered)
    assert all(row.last_error is None for row in delivered)
    # Exactly once per row, with the Message-ID fixed when the row was queued.
    assert sorted(message_ids(smtp_server.messages)) == sorted(
        row.payload["headers"]["Message-ID"] for row in delivered
    )
    assert sorted(str(m["To"]) for m in smtp_server.messages) == [
        f"p{n}@firma.dk" for n in range(4)
    ]
    assert drain(now=utcnow() + timedelta(hours=2)).sent == 0
    assert len(smtp_server.messages) == 4


def test_a_claim_takes_no_more_than_its_batch(app_context, app):
    queue_emails(app, 5)
    assert len(claim(limit=2)) == 2
    assert len(claim(limit=2)) == 2
    assert len(claim(limit=2)) == 1
    assert claim(limit=2) == []


def test_a_batch_is_delivered_in_due_order(app_context, app):
    """Rows written in one order and due in another come out of a claim by due time (a
    lead's webhook events arrive as they happened), not as the UPDATE met them on disk."""
    now = utcnow()
    written = [enqueue("test-order", {"n": n}) for n in range(3)]
    for n, message in enumerate(written):
        message.next_attempt_at = now - timedelta(seconds=n)  # the last written is due first
    db.session.commit()
    claimed = claim(now)
    assert [d.payload["n"] for d in claimed] == [2, 1, 0]


def test_a_crashed_worker_lease_runs_out_and_another_delivers(app_context, app, smtp_server):
    queue_emails(app, 3)
    now = utcnow()
    leased = claim(now)  # a worker claims, then dies before sending anything
    assert len(leased) == 3 and all(d.attempts == 1 for d in leased)

    assert drain(now=now).sent == 0  # leased rows are nobody else's yet
    assert smtp_server.messages == []
    after_lease = now + timedelta(seconds=app.config["OUTBOX_LEASE_SECONDS"] + 1)
    assert drain(now=after_lease).sent == 3
    assert len(smtp_server.messages) == 3
    assert all(row.status == "sent" and row.attempts == 2 for row in rows())


def test_a_late_result_from_an_expired_lease_does_not_overwrite(app_context, app, smtp_server):
    """Worker A's lease ran out and B re-claimed the row: A's outcome must not be recorded."""
    queue_emails(app, 1)
    now = utcnow()
    [stale] = claim(now)
    after_lease = now + timedelta(seconds=app.config["OUTBOX_LEASE_SECONDS"] + 1)
    [fresh] = claim(after_lease)
    smtp_server.stop()
    deliver(stale, now, DrainResult())  # fails, but the row is B's now
    [row] = rows()
    assert row.attempts == 2 and row.last_error is None
    smtp_server.start()
    deliver(fresh, after_lease, DrainResult())
    [row] = rows()
    assert row.status == "sent"


def test_gives_up_after_about_a_day_with_the_reason(app_context, app, smtp_server):
    queue_emails(app, 1)
    smtp_server.stop()
    result = drain(now=utcnow() + timedelta(hours=23, minutes=59, seconds=50))
    assert result.dead == 1
    [row] = rows()
    assert row.status == "dead"
    assert row.last_error.startswith("gave up after 1 attempts; last error:")


def test_refused_recipient_is_dead_at_once(app_context, app, smtp_server):
    smtp_server.refused.add("gone@firma.dk")
    with app.test_request_context():
        enqueue_email(
            "gone@firma.dk",
            "confirm",
            "en",
            {"confirm_url": "https://x/c/1"},
            unsubscribe_url=UNSUBSCRIBE,
        )
        enqueue_email(
            "here@firma.dk",
            "confirm",
            "en",
            {"confirm_url": "https://x/c/2"},
            unsubscribe_url=UNSUBSCRIBE,
        )
        db.session.commit()
    result = drain()
    assert (result.sent, result.dead) == (1, 1)
    dead = next(row for row in rows() if row.status == "dead")
    assert dead.payload["to"] == "gone@firma.dk" and "550" in dead.last_error


def test_dedupe_key_queues_once_and_rows_roll_back_with_the_change(app_context, app):
    with app.test_request_context():
        first = enqueue("note", {"n": 1}, dedupe_key="k1")
        again = enqueue("note", {"n": 2}, dedupe_key="k1")
        assert again is first
        db.session.commit()
        enqueue("note", {"n": 3})
        db.session.rollback()  # the caller's change failed: its outbox row goes with it
    assert [row.payload for row in rows()] == [{"n": 1}]


def test_registered_senders_get_the_row(app_context, app):
    seen = []
    outbox_senders.register(app, "note", seen.append)
    with app.test_request_context():
        enqueue("note", {"n": 1})
        enqueue("unknown-kind", {"n": 2})
        db.session.commit()
    result = drain()
    assert [(d.kind, d.payload) for d in seen] == [("note", {"n": 1})]
    assert seen[0].public_id.startswith("msg_")
    assert (result.sent, result.retrying) == (1, 1)
    unknown = next(row for row in rows() if row.kind == "unknown-kind")
    assert "no sender registered" in unknown.last_error


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_two_workers_on_postgres_deliver_each_row_once(app_context, app, smtp_server):
    queue_emails(app, 40)
    smtp_server.delay = 0.02  # each send takes a moment, so the workers overlap
    start = threading.Barrier(2)
    sent: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                start.wait()
                sent.append(drain(batch=1).sent)
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sum(sent) == 40 and all(count > 0 for count in sent), sent
    counts = Counter(message_ids(smtp_server.messages))
    assert len(counts) == 40 and set(counts.values()) == {1}
    assert all(row.status == "sent" and row.attempts == 1 for row in rows())


def test_development_server_drains_in_process(app_context, app, app_config, smtp_server, serve):
    queue_emails(app, 2)  # `app` made the tables; the server below is a second app on them
    db.session.remove()
    app = create_app({**app_config, "DRAIN_OUTBOX_IN_PROCESS": True})
    with serve(app) as server:
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    stop_in_process(app)
    with app.app_context():
        db.engine.dispose()
    assert sorted(str(m["To"]) for m in smtp_server.messages) == [
        "reader0@firma.dk",
        "reader1@firma.dk",
    ]
