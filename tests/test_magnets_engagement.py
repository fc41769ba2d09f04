"""Downloads as engagement: on the lead's back-office timeline and scored by the `download`
rule (on PostgreSQL inside the download's own statement), exactly as `score_activity` would."""

from __future__ import annotations

import html
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from helpers import ON_POSTGRES

from capture.base.db import db, utcnow
from capture.leads.lead import Lead, StageChange
from capture.leads.scoring import ScoreChange
from magnets.grants import Download

TITLE = "Guiden <b>før</b> & efter"


@pytest.fixture(params=["file", "s3"])
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> dict[str, Any]:
    if request.param == "s3":
        return {**app_config, **request.getfixturevalue("s3_server").settings()}
    return app_config


@pytest.fixture
def link(make_magnet: Any, make_form: Any, submit: Any) -> str:
    """A gated ebook's download path for ane@firma.dk (ebook_download scores 20)."""
    make_magnet(title=TITLE)
    make_form(slug="get-guide", conversion="ebook_download", magnet="guide")
    url = submit("get-guide", {"email": "ane@firma.dk"}).get_json()["download_url"]
    return url.removeprefix("http://localhost")


def delivered(app: Flask) -> int:
    """A download's answer: the file itself, or from S3 a redirect to a signed address."""
    return 302 if app.config["STORAGE_URL"].startswith("s3://") else 200


def download(client: Any, path: str) -> None:
    response = client.get(path)
    response.get_data()
    response.close()
    assert response.status_code == delivered(client.application)


def lead() -> Lead:
    db.session.expire_all()
    found = db.session.scalar(sa.select(Lead))
    assert found is not None
    return found


def history(of: Lead) -> list[tuple[str, int, int]]:
    rows = db.session.scalars(
        sa.select(ScoreChange).where(ScoreChange.lead_id == of.id).order_by(ScoreChange.id)
    )
    return [(row.rule, row.before, row.after) for row in rows]


def test_a_download_is_on_the_timeline_and_scores_the_rule(
    app_context: None, app: Flask, client: Any, staff: Any, link: str
) -> None:
    assert lead().score == 20
    download(client, link)
    ane = lead()
    assert (ane.score, ane.temperature) == (30, "warm")
    assert history(ane)[-1] == ("activity: download", 20, 30)
    page = staff("sales").get(f"/admin/leads/{ane.public_id}").get_data(as_text=True)
    assert 'class="event-download"' in page
    assert html.escape(TITLE, quote=False) in page and TITLE not in page
    assert "submission" in page  # how the link was issued
    assert "Score 20 → 30" in page


@pytest.mark.app_config(SCORING_RULES=json.dumps({"activities": {"download": 0}}))
def test_without_a_download_rule_a_download_changes_no_score(
    app_context: None, app: Flask, client: Any, link: str
) -> None:
    before = lead()
    touched_at = before.last_activity_at
    download(client, link)
    ane = lead()
    assert ane.score == 20 and history(ane) == [("conversion: ebook_download", 0, 20)]
    assert ane.last_activity_at > touched_at
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 1


# A gated ebook makes the lead an MQL by classification: the threshold left to reach is SQL.
QUALIFYING = json.dumps({"thresholds": {"mql": 30, "sql": 40}})


@pytest.mark.app_config(SCORING_RULES=QUALIFYING)
def test_every_download_scores_and_a_threshold_moves_the_stage(
    app_context: None, app: Flask, client: Any, link: str
) -> None:
    for _ in range(3):
        download(client, link)
    ane = lead()
    # Within the download cap (3 a day): each adds its points; the second reaches the SQL 40.
    assert ane.score == 50 and ane.lifecycle_stage == "sql"
    assert [row for row in history(ane) if row[0] == "activity: download"] == [
        ("activity: download", 20, 30),
        ("activity: download", 30, 40),
        ("activity: download", 40, 50),
    ]
    moves = db.session.scalars(sa.select(StageChange).where(StageChange.lead_id == ane.id))
    assert [(m.from_stage, m.to_stage, m.actor) for m in moves][-1] == (
        "mql",
        "sql",
        "system:scoring",
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 3


@pytest.mark.app_config(SCORING_RULES=json.dumps({"decay": {"half_life_days": 30}}))
def test_the_decay_owed_is_caught_up_first_as_score_activity_does(
    app_context: None, app: Flask, client: Any, link: str
) -> None:
    ane = lead()
    ane.engagement_at = utcnow() - timedelta(days=30)
    db.session.commit()
    download(client, link)
    ane = lead()
    assert history(ane)[-2:] == [("decay", 20, 10), ("activity: download", 10, 20)]
    assert (ane.score, round(ane.engagement_score), ane.temperature) == (20, 20, "cold")
    assert utcnow() - ane.engagement_at < timedelta(minutes=1)


@pytest.mark.app_config(SCORING_RULES=QUALIFYING)
def test_over_http_downloads_score_and_qualify_in_their_own_requests(
    app_context: None, app: Flask, live_server: Any, link: str
) -> None:
    """Through a real server a request starts without a transaction: on PostgreSQL the
    autocommit path, and its fallback to a transaction when the MQL threshold is reached."""
    db.session.commit()
    db.session.close()
    for _ in range(2):
        answer = requests.get(live_server.url + link, allow_redirects=False, timeout=10)
        assert answer.status_code == delivered(app)
    ane = lead()
    assert (ane.score, ane.lifecycle_stage) == (40, "sql")
    assert [row for row in history(ane) if row[0] == "activity: download"] == [
        ("activity: download", 20, 30),
        ("activity: download", 30, 40),
    ]


@pytest.mark.skipif(not ON_POSTGRES, reason="the one-statement path is PostgreSQL's")
def test_on_postgresql_a_scored_download_is_still_one_statement_in_autocommit(
    app_context: None, app: Flask, live_server: Any, link: str
) -> None:
    db.session.commit()
    db.session.close()
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        answer = requests.get(live_server.url + link, allow_redirects=False, timeout=10)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert answer.status_code == delivered(app)
    # The grant's SELECT, then the INSERT carrying the lead's UPDATE and its score history.
    assert statements == ["SELECT", "WITH"]
    ane = lead()
    assert ane.score == 30 and history(ane)[-1] == ("activity: download", 20, 30)


CAPPED = json.dumps({"activities": {"download": {"max": 2, "per": "1d"}}})
REPEAT = "download: at most 2 per day"


def downloads_in(of: Lead) -> list[tuple[int, int, str | None]]:
    rows = db.session.scalars(
        sa.select(ScoreChange)
        .where(ScoreChange.lead_id == of.id, ScoreChange.rule == "activity: download")
        .order_by(ScoreChange.id)
    )
    return [(row.before, row.after, row.reason) for row in rows]


@pytest.mark.app_config(SCORING_RULES=CAPPED)
def test_downloads_beyond_the_rules_cap_score_nothing_and_say_why(
    app_context: None, app: Flask, live_server: Any, link: str
) -> None:
    """Over a real server, so on PostgreSQL the capped download is still the one statement."""
    db.session.commit()
    db.session.close()
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    for attempt in range(4):
        if attempt == 3:
            sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            answer = requests.get(live_server.url + link, allow_redirects=False, timeout=10)
        finally:
            if attempt == 3:
                sa.event.remove(db.engine, "before_cursor_execute", record)
        assert answer.status_code == delivered(app)
    ane = lead()
    assert ane.score == 40
    assert downloads_in(ane) == [(20, 30, None), (30, 40, None), (40, 40, REPEAT), (40, 40, REPEAT)]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 4
    if ON_POSTGRES:
        assert statements == ["SELECT", "WITH"]


@pytest.mark.skipif(not ON_POSTGRES, reason="the one-statement path is PostgreSQL's")
@pytest.mark.app_config(SCORING_RULES=CAPPED)
def test_a_download_committed_while_the_statement_waits_for_the_lock_is_counted(
    app_context: None, app: Flask, live_server: Any, link: str
) -> None:
    """The statement's snapshot predates its row lock: a scored download committed in between
    is not in the history it reads. It must notice and count again after the lock."""
    download(app.test_client(), link)  # one scored: one left under the cap
    db.session.commit()
    ane = lead()
    lead_id, score = ane.id, ane.score
    db.session.close()
    other = db.engine.connect()
    other.begin()
    # Another download's transaction, scored and holding the lead's row lock.
    other.execute(
        sa.update(Lead.__table__)
        .where(Lead.__table__.c.id == lead_id)
        .values(score=score + 10, engagement_score=score + 10)
    )
    other.execute(
        sa.insert(ScoreChange.__table__).values(
            lead_id=lead_id,
            rule="activity: download",
            event="another download",
            before=score,
            after=score + 10,
            created_at=utcnow(),
        )
    )
    answers: list[int] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            requests.get(live_server.url + link, allow_redirects=False, timeout=30).status_code
        )
    )
    waiting.start()
    waiting.join(timeout=1.5)
    assert waiting.is_alive(), "the download did not wait for the lead's row lock"
    other.commit()
    other.close()
    waiting.join(timeout=30)
    assert answers == [delivered(app)]
    ane = lead()
    assert downloads_in(ane)[-1] == (40, 40, REPEAT)
    assert ane.score == 40


@pytest.mark.skipif(not ON_POSTGRES, reason="racing downloads only mean something on PostgreSQL")
@pytest.mark.app_config(SCORING_RULES=CAPPED)
def test_racing_downloads_score_no_more_than_the_cap(
    app_context: None, app: Flask, live_server: Any, link: str
) -> None:
    db.session.commit()
    db.session.close()
    barrier = threading.Barrier(8)

    def fetch() -> int:
        barrier.wait(timeout=30)
        return requests.get(live_server.url + link, allow_redirects=False, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [future.result() for future in [pool.submit(fetch) for _ in range(8)]]
    assert set(answers) <= {200, 302}
    ane = lead()
    assert ane.score == 40
    assert [row[2] for row in downloads_in(ane)] == [None, None] + [REPEAT] * 6


@pytest.mark.skipif(not ON_POSTGRES, reason="synchronous_commit is PostgreSQL's")
@pytest.mark.app_config(DOWNLOAD_ASYNC_COMMIT=True)
def test_an_asynchronously_committed_download_is_recorded_and_scored_in_its_statement(
    app_context: None, app: Flask, live_server: Any, link: str
) -> None:
    """LEADGATE_DOWNLOAD_ASYNC_COMMIT=1: the same one statement, which turns synchronous_commit
    off for its own transaction only."""
    db.session.commit()
    db.session.close()
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        answer = requests.get(live_server.url + link, allow_redirects=False, timeout=10)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert answer.status_code == delivered(app)
    assert [s.split()[0].upper() for s in statements] == ["SELECT", "WITH"]
    assert "set_config" in statements[1]
    ane = lead()
    assert ane.score == 30 and history(ane)[-1] == ("activity: download", 20, 30)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Download)) == 1
    with db.engine.connect() as connection:  # the setting did not outlive its transaction
        assert connection.execute(sa.text("SHOW synchronous_commit")).scalar_one() == "on"
