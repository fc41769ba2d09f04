"""`leadgate worker`: delivers outbox rows, at least once, without two workers sending one row.

Claiming and sending are separate transactions. A claim leases due rows: it locks them
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers get disjoint rows; SQLite runs
one writer at a time) and pushes their `next_attempt_at` a lease ahead. The worker then
sends with no transaction open and records each outcome only if the row is still its own
(same attempt count). A worker that dies mid-batch leaves leased rows that come due again when
the lease ends: nothing is lost, and the worst case is one repeat of a send that was cut off.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError

from capture.base.db import db, utcnow
from capture.delivery.outbox import (
    Delivery,
    OutboxMessage,
    OutboxStatus,
    PermanentFailure,
    sender_for,
)
from capture.extension_points import scheduled_tasks

log = logging.getLogger("leadgate.worker")

IDLE_SECONDS = 1.0


@dataclass
class DrainResult:
    sent: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.dead


def claim(now: datetime | None = None, limit: int | None = None) -> list[Delivery]:
    """Lease up to `limit` due rows to this worker and commit the lease before any send."""
    config = current_app.config
    now = now or utcnow()
    limit = limit or config["OUTBOX_BATCH_SIZE"]
    table = OutboxMessage
    due = [table.status == OutboxStatus.PENDING.value, table.next_attempt_at <= now]
    # Lock a batch of due rows; PostgreSQL skips rows another worker holds. (One statement
    # with `id IN (SELECT ... LIMIT ... FOR UPDATE SKIP LOCKED)` is not safe: PostgreSQL may
    # run that subquery once per row and hand one worker far more than the limit.)
    ids = db.session.scalars(
        sa.select(table.id)
        .where(*due)
        .order_by(table.next_attempt_at, table.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        db.session.commit()
        return []
    # The conditions again: on SQLite (no row locks) a second worker that read the same ids
    # finds them leased by the time it may write, and takes none of them.
    statement = (
        sa.update(table)
        .where(table.id.in_(ids), *due)
        .values(
            next_attempt_at=now + timedelta(seconds=config["OUTBOX_LEASE_SECONDS"]),
            attempts=table.attempts + 1,
        )
        .returning(
            table.id, table.public_id, table.kind, table.payload, table.attempts, table.created_at
        )
    )
    rows = db.session.execute(statement, execution_options={"synchronize_session": False}).all()
    db.session.commit()
    # RETURNING lists rows as the UPDATE met them, not in the order their ids were read: sent
    # in due order, a lead's events arrive as they happened (created, converted, moved).
    order = {row_id: n for n, row_id in enumerate(ids)}
    return [Delivery(*row[1:]) for row in sorted(rows, key=lambda row: order[row[0]])]


def retry_delay(attempts: int, base: float, ceiling: float) -> float:
    """Exponential backoff with jitter: attempt 1 waits about `base`, doubling up to `ceiling`.

    The jitter (half to all of the step) spreads out retries of rows that failed together, so a
    recovering SMTP server or CRM is not hit by all of them in the same second.
    """
    step = min(ceiling, base * 2 ** max(0, attempts - 1))
    # Jitter that spreads retries out: no secret, so no need for a cryptographic generator.
    return step * random.uniform(0.5, 1.0)  # noqa: S311  # nosec B311


def _record(delivery: Delivery, values: dict[str, Any]) -> None:
    """Write the outcome unless another worker re-claimed the row after our lease ran out."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.public_id == delivery.public_id,
            OutboxMessage.attempts == delivery.attempts,
            OutboxMessage.status == OutboxStatus.PENDING.value,
        )
        .values(**values),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


def deliver(delivery: Delivery, now: datetime, result: DrainResult) -> None:
    config = current_app.config
    sender = sender_for(delivery.kind)
    moment = max(now, utcnow())
    try:
        if sender is None:
            raise LookupError(f"no sender registered for outbox kind {delivery.kind!r}")
        sender(delivery)
    except PermanentFailure as exc:
        log.warning("outbox %s: undeliverable: %s", delivery.public_id, exc)
        _record(delivery, {"status": OutboxStatus.DEAD.value, "last_error": _describe(exc)})
        result.dead += 1
        return
    except Exception as exc:
        delay = retry_delay(
            delivery.attempts,
            config["OUTBOX_RETRY_BASE_SECONDS"],
            config["OUTBOX_RETRY_MAX_SECONDS"],
        )
        next_attempt = moment + timedelta(seconds=delay)
        deadline = delivery.created_at + timedelta(seconds=config["OUTBOX_GIVE_UP_SECONDS"])
        if next_attempt > deadline:
            log.error(
                "outbox %s: giving up after %d attempts", delivery.public_id, delivery.attempts
            )
            error = f"gave up after {delivery.attempts} attempts; last error: {_describe(exc)}"
            _record(delivery, {"status": OutboxStatus.DEAD.value, "last_error": error})
            result.dead += 1
        else:
            log.warning(
                "outbox %s: attempt %d failed: %s", delivery.public_id, delivery.attempts, exc
            )
            _record(delivery, {"next_attempt_at": next_attempt, "last_error": _describe(exc)})
            result.retrying += 1
        return
    _record(
        delivery,
        {"status": OutboxStatus.SENT.value, "sent_at": utcnow(), "last_error": None},
    )
    result.sent += 1


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def drain(now: datetime | None = None, batch: int | None = None) -> DrainResult:
    """Deliver every row due at `now` (default: the clock), batch by batch, then return.

    Rows that fail are rescheduled into the future, so a drain always ends.
    """
    result = DrainResult()
    while True:
        deliveries = claim(now, batch)
        if not deliveries:
            return result
        for delivery in deliveries:
            deliver(delivery, now or utcnow(), result)


def run_scheduled(app: Flask, last: dict[str, float]) -> None:
    """Run each `scheduled_tasks` job whose interval has passed since this process last ran
    it (and each once at start); a failing job is logged and tried again next interval."""
    for name, task in scheduled_tasks.items(app):
        every = int(app.config.get(task.setting) or 0)
        moment = time.monotonic()
        if not every or (name in last and moment - last[name] < every):
            continue
        last[name] = moment
        try:
            log.info("%s", task.run(utcnow()))
        except Exception:
            db.session.rollback()
            log.exception("scheduled job %s failed", name)


def run_forever(app: Flask, stop: threading.Event, idle: float = IDLE_SECONDS) -> None:
    """Drain, run the scheduled jobs that are due, wait a little when idle, repeat until
    `stop` is set; survive database outages."""
    last: dict[str, float] = {}
    while not stop.is_set():
        handled = 0
        try:
            with app.app_context():
                handled = drain().handled
                run_scheduled(app, last)
        except DBAPIError as exc:
            log.warning("outbox worker: database unavailable (%s); retrying", type(exc).__name__)
            stop.wait(5)
            continue
        if not handled:
            stop.wait(idle)


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch", type=click.IntRange(1, 1000), default=None, help="Rows per claim.")
@with_appcontext
def worker_command(once: bool, batch: int | None) -> None:
    """Deliver queued e-mails and webhooks, retrying failures with backoff for about a day;
    also run the scheduled jobs (nurture follow-ups, the privacy purge) at their intervals."""
    if once:
        result = drain(batch=batch)
        click.echo(f"outbox: {result.sent} sent, {result.retrying} to retry, {result.dead} gave up")
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if batch:
        app.config["OUTBOX_BATCH_SIZE"] = batch
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("outbox worker running (Ctrl+C to stop)", err=True)
    run_forever(app, stop)


def start_in_process(app: Flask) -> None:
    """Development only (`LEADGATE_DRAIN_OUTBOX_IN_PROCESS=1`): drain in a background thread
    started by the first request, so `make demo` needs no separate worker and CLI commands
    that build the app (db upgrade, demo) start no thread."""
    lock = threading.Lock()
    stop = threading.Event()

    @app.before_request
    def start_drain_thread() -> None:
        if "leadgate.drain_thread" in app.extensions:
            return
        with lock:
            if "leadgate.drain_thread" in app.extensions:
                return
            thread = threading.Thread(
                target=run_forever, args=(app, stop), name="leadgate-outbox", daemon=True
            )
            thread.start()
            app.extensions["leadgate.drain_thread"] = (thread, stop)


def stop_in_process(app: Flask, timeout: float = 30) -> None:
    """Stop the background drain (tests; a server that shuts down cleanly)."""
    started = app.extensions.pop("leadgate.drain_thread", None)
    if started is not None:
        thread, stop = started
        stop.set()
        thread.join(timeout)


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
    if app.config.get("DRAIN_OUTBOX_IN_PROCESS"):
        start_in_process(app)
