"""Faults on the submission path, with real processes broken on purpose.

gunicorn (the repository's gunicorn.conf.py, several sync workers) serves Leadgate from a
PostgreSQL cluster of the module's own, so the shared server is never stopped. Each test prints
its figures. A client here behaves like the embed: every post carries an Idempotency-Key, and
what broke or got a 503 is sent again with the same key and body.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from processes import GunicornServer, PrivatePostgres, ServiceMissing

from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import save_spec
from wsgi import create_app

pytestmark = pytest.mark.slow

WORKERS = 4
# CI breaks things once; the long run (README, "Speed and faults") repeats each fault many times.
ROUNDS = range(int(os.environ.get("LEADGATE_FAULT_ROUNDS") or 1))
SECRET_KEY = "fault-tests-secret-key-0123456789abcdefghij"
KILL, RESTART, RACE = "faults-kill", "faults-restart", "faults-race"
# What must never reach a client, whatever broke.
LEAKS = ("Traceback", 'File "', "psycopg", "sqlalchemy", "SELECT ", "INSERT ", "UPDATE ")


def form_document(slug: str) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": slug,
        "conversion": "newsletter_signup",
        "language": "en",
        "fields": [
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text"},
        ],
        "consents": [
            {"purpose": "processing", "required": True, "text": {"en": "We process it."}},
            {"purpose": "marketing", "required": False, "text": {"en": "Send me news."}},
        ],
    }


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    try:
        cluster = PrivatePostgres()
    except ServiceMissing as missing:
        if os.environ.get("LEADGATE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{missing} (LEADGATE_REQUIRE_SERVICES=1 requires it)")
        pytest.skip(str(missing))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Stack:
    server: GunicornServer
    engine: sa.Engine

    def log(self) -> str:
        return self.server.tail(60)

    def token(self, slug: str) -> str:
        return requests.get(f"{self.server.url}/api/v1/forms/{slug}", timeout=30).json()["token"]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar_one()

    def submissions(self, slug: str) -> dict[str, sa.Row[Any]]:
        """Every stored submission of the form by public id, with what hangs off it."""
        sql = """
            SELECT s.public_id, s.status, l.email,
                   (SELECT count(*) FROM conversion_events c
                     WHERE c.submission_id = s.id AND c.lead_id = s.lead_id) AS conversions,
                   (SELECT count(*) FROM consent_records r WHERE r.submission_id = s.id)
                     AS consents
              FROM submissions s JOIN forms f ON f.id = s.form_id
              LEFT JOIN leads l ON l.id = s.lead_id
             WHERE f.slug = :slug"""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.text(sql), {"slug": slug}).all()
        return {row.public_id: row for row in rows}

    def half_written(self, slug: str) -> int:
        """Accepted submissions missing their lead, conversion or consents; leads of this form's
        test addresses without any submission."""
        return self.scalar(
            """
            SELECT (SELECT count(*) FROM submissions s JOIN forms f ON f.id = s.form_id
                     WHERE f.slug = :slug AND s.status = 'accepted' AND (
                           s.lead_id IS NULL
                        OR (SELECT count(*) FROM conversion_events c
                             WHERE c.submission_id = s.id AND c.lead_id = s.lead_id) <> 1
                        OR (SELECT count(*) FROM consent_records r WHERE r.submission_id = s.id)
                           <> (SELECT count(*) FROM jsonb_object_keys(s.consents))))
                 + (SELECT count(*) FROM leads l WHERE l.email LIKE :pattern
                     AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.lead_id = l.id))""",
            slug=slug,
            pattern=f"{slug}-%",
        )


@pytest.fixture(scope="module")
def stack(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    admin = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE leadgate"))
    admin.dispose()
    url = postgres.url("leadgate")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        db.create_all()
        for slug in (KILL, RESTART, RACE):
            save_spec(parse_definition(form_document(slug)))
        db.session.commit()
        db.engine.dispose()
    server = GunicornServer(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            "SUPPRESSION_KEY": SECRET_KEY,
            "LEADGATE_ENV": "production",
            "LEADGATE_TRUSTED_HOSTS": "127.0.0.1",
            "LEADGATE_ALLOW_CONSOLE_MAIL": "1",
            "LEADGATE_FORM_MIN_FILL_SECONDS": "0",
            "RATELIMIT_ENABLED": "0",
            "WEB_CONCURRENCY": str(WORKERS),
        },
        log=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
    )
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        server.start()
        yield Stack(server, engine)
    finally:
        server.stop()
        engine.dispose()


@dataclass
class Answer:
    """One post and what came back; `status` None when the connection broke."""

    email: str
    key: str
    first_name: str
    started: float
    finished: float = 0.0
    status: int | None = None
    body: Any = None
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def send(
    session: requests.Session,
    stack: Stack,
    slug: str,
    token: str,
    email: str,
    key: str,
    first_name: str = "Ane",
) -> Answer:
    answer = Answer(email, key, first_name, started=time.monotonic())
    body = {
        "fields": {"email": email, "first_name": first_name},
        "consents": {"processing": True, "marketing": True},
        "context": {"utm_source": "faults"},
        "token": token,
    }
    try:
        response = session.post(
            f"{stack.server.url}/api/v1/forms/{slug}/submissions",
            json=body,
            headers={"Idempotency-Key": key},
            timeout=60,
        )
    except requests.RequestException as exc:
        answer.error = type(exc).__name__
    else:
        answer.status = response.status_code
        answer.text = response.text
        answer.headers = dict(response.headers)
        try:
            answer.body = response.json()
        except ValueError:
            answer.body = None
    answer.finished = time.monotonic()
    return answer


def resend(stack: Stack, slug: str, token: str, answer: Answer) -> Answer:
    """What the embed does with a broken or 503 post: the same key and body, again."""
    with requests.Session() as session:
        return send(session, stack, slug, token, answer.email, answer.key, answer.first_name)


def hammer(
    stack: Stack, slug: str, token: str, client: int, stop: threading.Event, out: list[Answer]
) -> None:
    """Post fresh submissions until told to stop (bounded: 2,000 posts at most)."""
    with requests.Session() as session:
        for n in range(2000):
            if stop.is_set():
                return
            email = f"{slug}-{client}-{n}-{uuid.uuid4().hex[:8]}@faults.example"
            out.append(send(session, stack, slug, token, email, uuid.uuid4().hex))


def assert_stored(stack: Stack, slug: str, accepted: list[Answer]) -> None:
    stored = stack.submissions(slug)
    for answer in accepted:
        row = stored.get(answer.body["submission"])
        assert row is not None, f"acknowledged but not stored: {answer.email}"
        assert row.status == "accepted" and row.email == answer.email.lower()
        assert row.conversions == 1 and row.consents == 2
    assert stack.half_written(slug) == 0


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_worker_killed_under_load_loses_nothing_it_acknowledged(
    stack: Stack, round_: int
) -> None:
    token = stack.token(KILL)
    answers: list[Answer] = []
    stop = threading.Event()
    killed = []
    with ThreadPoolExecutor(8) as pool:
        clients = [pool.submit(hammer, stack, KILL, token, c, stop, answers) for c in range(8)]
        for _ in range(3):
            time.sleep(1.5)
            victim = random.choice(stack.server.workers())
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
        time.sleep(1.5)
        stop.set()
        for client in clients:
            client.result()

    broken = [a for a in answers if a.status is None]
    retried = [resend(stack, KILL, token, a) for a in broken]
    replayed = sum(a.headers.get("Idempotent-Replayed") == "true" for a in retried)
    accepted = [a for a in answers + retried if a.status == 201]
    statuses = Counter(a.status for a in answers)
    print(
        f"\nSIGKILL of 3 of {WORKERS} workers under 8 clients: {len(answers)} posts, "
        f"statuses {dict(statuses)}; {len(broken)} cut mid-request, retried with their keys: "
        f"{Counter(a.status for a in retried)} ({replayed} had been committed and replayed); "
        f"{len(accepted)} acknowledged, all stored whole"
    )
    assert statuses[201] > 0
    odd = [(a.status, a.text[:300]) for a in answers if a.status not in {201, None}]
    assert not odd, f"{odd[:3]}\n{stack.log()}"
    assert all(a.status == 201 for a in retried)
    assert_stored(stack, KILL, accepted)
    deadline = time.monotonic() + 60
    while len(stack.server.workers()) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = stack.server.workers()
    assert len(workers) == WORKERS and not set(workers) & set(killed)  # the master replaced them


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_postgresql_restart_under_load_answers_503_then_recovers(
    stack: Stack, postgres: PrivatePostgres, round_: int
) -> None:
    token = stack.token(RESTART)
    answers: list[Answer] = []
    stop = threading.Event()
    with ThreadPoolExecutor(6) as pool:
        clients = [pool.submit(hammer, stack, RESTART, token, c, stop, answers) for c in range(6)]
        time.sleep(1.5)
        down_at = time.monotonic()
        postgres.stop("fast")
        time.sleep(3)
        postgres.start()
        back_at = time.monotonic()
        deadline = back_at + 30
        while time.monotonic() < deadline and not any(
            a.status == 201 and a.started >= back_at for a in list(answers)
        ):
            time.sleep(0.1)
        time.sleep(1)
        stop.set()
        for client in clients:
            client.result()

    statuses = Counter(a.status for a in answers)
    unavailable = [a for a in answers if a.status == 503]
    after = [a.finished for a in answers if a.status == 201 and a.started >= back_at]
    recovery = min(after) - back_at if after else None
    retried = [resend(stack, RESTART, token, a) for a in unavailable]
    print(
        f"\nPostgreSQL stopped for {back_at - down_at:.1f} s under 6 clients: {len(answers)} "
        f"posts, statuses {dict(statuses)}; first 201 {recovery and f'{recovery:.2f}'} s after "
        f"it was back; {len(unavailable)} 503s retried with their keys: "
        f"{dict(Counter(a.status for a in retried))}"
    )
    odd = [(a.status, a.error, a.text[:300]) for a in answers if a.status not in {201, 503}]
    assert not odd, f"only 201 or 503, no 500, no broken connection: {odd[:3]}\n{stack.log()}"
    assert unavailable, "the outage was never seen: stop the database earlier or longer"
    for answer in unavailable:
        assert answer.headers.get("Retry-After", "").isdigit()
        assert answer.body["error"]["code"] == "unavailable"
        assert set(answer.body) == {"error"} and set(answer.body["error"]) == {"code", "message"}
        assert not [leak for leak in LEAKS if leak in answer.text]
    assert recovery is not None, "no submission succeeded within 30 s of the database's return"
    assert all(a.status == 201 for a in retried)
    assert_stored(stack, RESTART, [a for a in answers + retried if a.status == 201])


def test_200_concurrent_submissions_with_one_email_make_one_lead(stack: Stack) -> None:
    """The heavier, multi-process cousin of tests/test_capture_concurrency.py: 200 posts at
    once over several gunicorn workers, 40 of them one request repeated with one key."""
    token = stack.token(RACE)
    count, shared = 200, 40
    barrier = threading.Barrier(count)
    email = f"{RACE}-Ane@Firma.dk"

    def post(i: int) -> Answer:
        key = f"{RACE}-shared" if i < shared else f"{RACE}-{i}"
        name = "Ane" if i < shared else f"Ane {i}"
        with requests.Session() as session:
            barrier.wait(timeout=60)
            return send(session, stack, RACE, token, email, key, name)

    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(post, range(count)))
    seconds = time.monotonic() - started

    statuses = Counter(a.status for a in answers)
    stored = stack.submissions(RACE)
    leads = stack.scalar("SELECT count(*) FROM leads WHERE email = :e", e=email.lower())
    events = stack.scalar(
        "SELECT count(*) FROM conversion_events c JOIN forms f ON f.id = c.form_id "
        "WHERE f.slug = :slug",
        slug=RACE,
    )
    with stack.engine.connect() as connection:
        moves = connection.execute(
            sa.text(
                "SELECT s.from_stage, s.to_stage FROM stage_changes s "
                "JOIN leads l ON l.id = s.lead_id WHERE l.email = :e"
            ),
            {"e": email.lower()},
        ).all()
    replays = sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers[:shared])
    print(
        f"\n{count} concurrent posts, one e-mail, {WORKERS} workers ({shared} sharing one key): "
        f"statuses {dict(statuses)} in {seconds:.1f} s; {leads} lead, {len(stored)} "
        f"submissions, {events} conversion events, {replays} replays; stage changes "
        f"{[tuple(m) for m in moves]}"
    )
    assert statuses == {201: count}
    assert leads == 1
    assert len({a.body["lead"] for a in answers}) == 1
    assert len({a.body["submission"] for a in answers[:shared]}) == 1
    assert all(a.body == answers[0].body for a in answers[:shared])
    assert replays == shared - 1
    assert len(stored) == events == count - shared + 1
    # Each move once, not once per racing request (scoring may move the lead on to SQL).
    assert len(moves) == len(set(moves)) and ("lead", "mql") in [tuple(m) for m in moves]
    assert_stored(stack, RACE, answers)
