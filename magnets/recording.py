"""Recording a download: the row, the lead's activity and the `download` scoring rule.

On PostgreSQL one statement (the lead's UPDATE, its score history and the INSERT, as CTEs),
so it is atomic on its own and a download can run in autocommit (see `links.download`). It is
built once per rule set and compiled once for the driver: `Recorder` runs it (and the grant's
read, `usable_grant`) straight through psycopg, the way `magnets.links` takes a working link on
PostgreSQL. When the points could move the lead's stage (whose hooks run in Python), or
elsewhere, the lead is loaded and scored by `score_activity` in one transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from capture.base.db import db, new_public_id, table_of, utcnow
from capture.base.driver import Compiled, fetch_one
from capture.leads.lead import Lead
from capture.leads.scoring import current_rules, score_activity
from capture.ops import metrics
from magnets.engagement import ACTIVITY, download_points, scored_touch
from magnets.grants import DOWNLOADS, Download, DownloadGrant, Usable
from magnets.magnet import MagnetFile

SCORED_INSERT = "magnets.scored_download_insert"
COLUMNS = ["public_id", "grant_id", "lead_id", "magnet_id", "file_id", "ip", "user_agent"]


def download_params(
    grant_id: int,
    lead_id: int,
    magnet_id: int,
    file_id: int,
    slug: str,
    ip: str | None,
    user_agent: str | None,
) -> dict[str, Any]:
    """The values of the recording statement (`recording_statement`) for one download."""
    now = utcnow()
    public_id = new_public_id("dl")
    return {
        "p_public_id": public_id,
        "p_grant_id": grant_id,
        "p_lead_id": lead_id,
        "p_magnet_id": magnet_id,
        "p_file_id": file_id,
        "p_ip": ip,
        "p_user_agent": user_agent,
        "p_created_at": now,
        "p_lead": lead_id,
        "p_at": now,
        "p_event": f"magnet {slug} download {public_id}",
    }


def record_download(
    grant: DownloadGrant, file: MagnetFile, ip: str | None, user_agent: str | None
) -> None:
    """Note the download and count it as activity on the lead, in the session's connection."""
    slug = grant.magnet.slug
    params = download_params(
        grant.id, grant.lead_id, grant.magnet_id, file.id, slug, ip, user_agent
    )
    points = download_points()
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        _record_in_transaction(params, points)
    elif db.session.execute(recording_statement(points).statement, params).first() is None:
        # Nothing was written: another download of the lead committed while this one
        # waited for its lock, or a stage move could be due. Again in a transaction that
        # takes the lock first, so the statement's snapshot comes after it and cannot be
        # stale; if it still refuses, a move is due and Python scores it.
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            db.session.rollback()  # the next statement begins a real transaction
        lead_id = params["p_lead"]
        db.session.execute(sa.select(Lead.id).where(Lead.id == lead_id).with_for_update())
        if db.session.execute(recording_statement(points).statement, params).first() is None:
            _record_in_transaction(params, points)
    metrics.count(DOWNLOADS, magnet=slug)


def record_quickly(
    connection: sa.Connection, usable: Usable, ip: str | None, user_agent: str | None
) -> bool:
    """`record_download` for a link read by `usable_grant`: the one statement through the
    driver, on a connection in autocommit. False when it wrote nothing (a download of the same
    lead committed while it waited for the lock, or a stage move could be due): the caller
    then takes the full path, which retries under the lock."""
    values = download_params(
        usable.grant_id,
        usable.lead_id,
        usable.magnet_id,
        usable.file_id,
        usable.slug,
        ip,
        user_agent,
    )
    recording = recording_statement(download_points())
    if fetch_one(connection, recording.compiled(connection.dialect), values) is None:
        return False
    metrics.count(DOWNLOADS, magnet=usable.slug)
    return True


class Recording:
    """The recording statement for one rule set, and its compiled form for the driver."""

    def __init__(self, statement: sa.Insert):
        self.statement = statement
        self._compiled: Compiled | None = None

    def compiled(self, dialect: sa.Dialect) -> Compiled:
        if self._compiled is None or self._compiled.dialect is not dialect:
            self._compiled = Compiled(self.statement, dialect)
        return self._compiled


def recording_statement(points: int) -> Recording:
    """The download's one statement on PostgreSQL, built once per rule set (see scored_touch).

    With points it returns the download's id, or no row when it wrote nothing (see
    `scored_touch`); without, it only touches the lead's activity and always writes.
    """
    rules = current_rules()
    cache = current_app.extensions.setdefault(SCORED_INSERT, {})
    asynchronous = _async_commit()
    key = (id(rules), points, bool(asynchronous))
    if key not in cache:
        table = table_of(Download)
        values = sa.select(
            *(sa.bindparam(f"p_{name}", type_=table.c[name].type) for name in COLUMNS),
            sa.bindparam("p_created_at", type_=table.c.created_at.type),
        ).where(*(a.is_not(None) for a in asynchronous))
        if points:
            touched, extra = scored_touch(rules, points)
            values = values.where(sa.exists(sa.select(touched.c.id)))
        else:
            moment = sa.bindparam("p_at", type_=table.c.created_at.type)
            lead_id = sa.bindparam("p_lead", type_=sa.Integer())
            leads = table_of(Lead)
            extra = (
                sa.update(leads)
                .where(leads.c.id == lead_id)
                .values(last_activity_at=moment, updated_at=moment)
                .returning(leads.c.id)
                .cte("touched")
            )
            # (PostgreSQL runs a data-modifying CTE whether or not the statement reads it.)
        cache[key] = Recording(
            sa.insert(table)
            .from_select([*COLUMNS, "created_at"], values)
            .add_cte(extra)
            .returning(table.c.id)
        )
    recording: Recording = cache[key]
    return recording


def _async_commit() -> list[sa.ColumnElement[str]]:
    """With `LEADGATE_DOWNLOAD_ASYNC_COMMIT=1`, an expression that turns `synchronous_commit`
    off for the statement's own transaction (autocommit: the statement is the transaction), so
    its commit does not wait for the disk. A crash may then lose the last fraction of a second
    of downloads; submissions and everything else stay durable."""
    if not current_app.config.get("DOWNLOAD_ASYNC_COMMIT"):
        return []
    return [sa.func.set_config("synchronous_commit", "off", sa.true())]


def _record_in_transaction(params: dict[str, Any], points: int) -> None:
    """The download and its scoring through the ORM, in the caller's transaction."""
    row = {name: params[f"p_{name}"] for name in [*COLUMNS, "created_at"]}
    if not points:
        db.session.execute(sa.insert(Download).values(**row))
        db.session.execute(
            sa.update(Lead)
            .where(Lead.id == row["lead_id"])
            .values(last_activity_at=row["created_at"], updated_at=row["created_at"])
            .execution_options(synchronize_session=False)
        )
        return
    # The lead's row lock first: the download's foreign key takes a KEY SHARE lock on the lead,
    # and two downloads holding that while each waits for FOR UPDATE would deadlock.
    lead = db.session.get(Lead, row["lead_id"], with_for_update=True, populate_existing=True)
    db.session.execute(sa.insert(Download).values(**row))
    if lead is None:
        return
    lead.last_activity_at = row["created_at"]
    score_activity(lead, ACTIVITY, event=params["p_event"])
