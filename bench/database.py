"""A database of the benchmark's own on the local PostgreSQL: created, migrated, checked, dropped.

Leadgate's tables come from its migrations (`leadgate db upgrade`), as in production; the
baseline's one table lives in its own schema of the same database.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import URL, make_url

from bench import baseline
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import save_spec
from wsgi import create_app

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# Capture tables emptied between phases; CASCADE takes rows of later tables that point at them.
CAPTURE_TABLES = ("stage_changes", "consent_records", "conversion_events", "submissions", "leads")


def driver_url(url: str) -> URL:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg")


@dataclass
class Integrity:
    """What the database holds after a phase, and whether it adds up."""

    accepted: int
    quarantined: int
    leads: int
    distinct_emails: int
    emails_with_several_leads: int
    half_written: int
    baseline_rows: int

    @property
    def one_lead_per_email(self) -> bool:
        return self.leads == self.distinct_emails and self.emails_with_several_leads == 0


class BenchDatabase:
    def __init__(self, server_url: str | None = None):
        self.server = driver_url(server_url or DEFAULT_SERVER)
        self.name = f"leadgate_bench_{secrets.token_hex(4)}"
        self.url = self.server.set(database=self.name)
        self._admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")
        self._engine: sa.Engine | None = None

    @property
    def url_string(self) -> str:
        return self.url.render_as_string(hide_password=False)

    @property
    def baseline_url(self) -> str:
        return f"{self.url_string}?options=-csearch_path%3D{baseline.SCHEMA}"

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.url)
        return self._engine

    def create(self, env: dict[str, str]) -> None:
        """Create the database, migrate it, import the benchmark's form, make the baseline."""
        with self._admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        leadgate = str(Path(sys.executable).with_name("leadgate"))
        subprocess.run(
            [leadgate, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        document = yaml.safe_load((ROOT / "bench" / "form.yaml").read_text(encoding="utf-8"))
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": self.url_string, "SECRET_KEY": env["SECRET_KEY"]}
        )
        with app.app_context():
            save_spec(parse_definition(document))
            db.session.commit()
            db.engine.dispose()
        with self.engine.begin() as connection:
            connection.execute(sa.text(f"CREATE SCHEMA {baseline.SCHEMA}"))
            baseline.Base.metadata.create_all(connection)

    def settle(self, timeout: float = 60) -> None:
        """Wait until no other session of this database is busy: requests that wrk gave up on
        at its deadline may still be running, and would be counted, or deadlock a TRUNCATE."""
        deadline = time.monotonic() + timeout
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
        )
        while time.monotonic() < deadline:
            with self.engine.connect() as connection:
                if connection.execute(query).scalar_one() == 0:
                    return
            time.sleep(0.1)

    def empty(self) -> None:
        """Start a phase with no leads, submissions or baseline rows (forms stay)."""
        self.settle()
        with self.engine.begin() as connection:
            connection.execute(
                sa.text(f"TRUNCATE {', '.join(CAPTURE_TABLES)} RESTART IDENTITY CASCADE")
            )
            connection.execute(sa.text(f"TRUNCATE {baseline.SCHEMA}.rows RESTART IDENTITY"))

    def integrity(self) -> Integrity:
        """The counts, all from one snapshot: a request wrk gave up on may still commit while
        they are taken (`settle` cannot see one that has not begun its transaction yet), and
        counting leads before its commit and e-mails after it once reported one e-mail
        without a lead."""
        self.settle()

        def count(sql: str) -> int:
            return connection.execute(sa.text(sql)).scalar_one()

        snapshot = self.engine.execution_options(isolation_level="REPEATABLE READ")
        with snapshot.connect() as connection, connection.begin():
            return Integrity(
                accepted=count("SELECT count(*) FROM submissions WHERE status = 'accepted'"),
                quarantined=count("SELECT count(*) FROM submissions WHERE status = 'quarantined'"),
                leads=count("SELECT count(*) FROM leads"),
                distinct_emails=count(
                    "SELECT count(DISTINCT fields->>'email') FROM submissions "
                    "WHERE status = 'accepted'"
                ),
                emails_with_several_leads=count(
                    "SELECT count(*) FROM (SELECT lower(email) FROM leads "
                    "GROUP BY lower(email) HAVING count(*) > 1) AS several"
                ),
                half_written=count(
                    "SELECT count(*) FROM submissions s WHERE s.status = 'accepted' AND ("
                    " s.lead_id IS NULL"
                    " OR NOT EXISTS (SELECT 1 FROM conversion_events c"
                    "                WHERE c.submission_id = s.id AND c.lead_id = s.lead_id)"
                    " OR (SELECT count(*) FROM consent_records r WHERE r.submission_id = s.id)"
                    "    <> (SELECT count(*) FROM jsonb_object_keys(s.consents)))"
                ),
                baseline_rows=count(f"SELECT count(*) FROM {baseline.SCHEMA}.rows"),
            )

    def drop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        with self._admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()
