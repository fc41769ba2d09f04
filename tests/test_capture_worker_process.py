"""`leadgate worker` as real processes: one killed mid-send loses nothing, the next delivers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from capture.base.db import db
from capture.delivery.outbox import OutboxMessage, enqueue_email

LEADGATE = str(Path(sys.executable).with_name("leadgate"))
LEASE_SECONDS = 3

UNSUBSCRIBE = "https://x/u/tok"  # every e-mail to a lead carries one


@pytest.fixture
def app_config(app_config, smtp_server):
    return {**app_config, "MAIL_URL": smtp_server.url}


@pytest.fixture
def worker_env(app_config, database_url, smtp_server):
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": app_config["SECRET_KEY"],
        "MAIL_URL": smtp_server.url,
        "LEADGATE_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "LEADGATE_ENV": "development",
    }


def wait_for(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_killed_worker_loses_nothing_and_the_next_delivers_once(
    app_context, app, smtp_server, worker_env
):
    with app.test_request_context():
        enqueue_email(
            "ane@firma.dk",
            "confirm",
            "en",
            {"confirm_url": "https://x/c/1"},
            unsubscribe_url=UNSUBSCRIBE,
        )
        db.session.commit()

    smtp_server.delay = 120  # the first worker hangs in the middle of sending
    first = subprocess.Popen([LEADGATE, "worker"], env=worker_env, stderr=subprocess.DEVNULL)
    try:
        wait_for(smtp_server.receiving.is_set)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    db.session.expire_all()
    row = db.session.scalar(sa.select(OutboxMessage))
    assert row.status == "pending" and row.attempts == 1  # leased, not lost

    smtp_server.stop()  # drops the half-received message, as a relay would
    smtp_server.delay = 0
    smtp_server.start()
    assert smtp_server.messages == []

    lines: list[str] = []
    with subprocess.Popen(
        [LEADGATE, "worker"],
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as second:
        reader = threading.Thread(target=lambda: lines.extend(second.stdout), daemon=True)
        reader.start()
        try:
            # Its SIGTERM handler is in place once it says it runs; a signal before that
            # would test Python's default action, not our clean stop.
            wait_for(lambda: any("outbox worker running" in line for line in list(lines)))
            wait_for(lambda: len(smtp_server.messages) >= 1)  # once the lease has run out
        finally:
            second.send_signal(signal.SIGTERM)  # a clean stop: finishes and exits 0
            second.wait(timeout=30)
            reader.join(timeout=10)
    assert second.returncode == 0, "".join(lines)
    db.session.expire_all()
    row = db.session.scalar(sa.select(OutboxMessage))
    assert row.status == "sent" and row.attempts == 2
    assert len(smtp_server.messages) == 1
    assert str(smtp_server.messages[0]["Message-ID"]) == row.payload["headers"]["Message-ID"]
