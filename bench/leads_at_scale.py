"""Scoring decay and lead export at scale: fills N leads, times both, prints the figures.

    .venv/bin/python bench/leads_at_scale.py [N] [DATABASE_URL]

PostgreSQL (the default URL is the test database) works in a private schema dropped at the end.
Figures only: quality.md's bars are decay of 1,000,000 leads <= 30 s (set-based), export >= 50,000
rows/s with peak RSS <= 150 MB.
"""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from capture.db import db, utcnow  # noqa: E402 - a script run from anywhere
from capture.leads.score import decay_all  # noqa: E402
from wsgi import create_app  # noqa: E402

FILL = """
INSERT INTO leads (public_id, email, first_name, company, properties, lifecycle_stage, score,
  temperature, source, first_touch, last_touch, last_activity_at, engagement_score, fit_score,
  engagement_at, created_at, updated_at)
SELECT 'lead_b' || g, 'p' || g || '@firma.dk', 'Name ' || g, '=Company ' || g, '{}', 'mql',
  40 + g % 60, 'warm', 'inbound', '{"utm_source": "bench"}', '{}', :then, 40 + g % 60, 0,
  :then, :then, :then
FROM generate_series(1, :n) AS g
"""


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    base = sys.argv[2] if len(sys.argv) > 2 else "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    schema = f"bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{base}?options=-csearch_path%3D{schema}"
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(32)})
        with app.app_context():
            db.create_all()
            then = utcnow() - timedelta(days=30)
            started = time.perf_counter()
            db.session.execute(sa.text(FILL), {"n": count, "then": then})
            db.session.commit()
            print(f"filled {count} leads in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            changed = decay_all()
            db.session.commit()
            took = time.perf_counter() - started
            print(f"decay: {changed} leads changed in {took:.1f} s ({count / took:,.0f} leads/s)")
        env = os.environ | {"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32)}
        started = time.perf_counter()
        with open(os.devnull, "w") as sink:
            subprocess.run(
                [str(ROOT / ".venv/bin/leadgate"), "leads", "export", "--format", "csv"],
                stdout=sink, stderr=subprocess.DEVNULL, env=env, check=True, cwd=ROOT,
            )  # fmt: skip
        took = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"export csv: {count / took:,.0f} rows/s, peak RSS {peak:.0f} MB")
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


if __name__ == "__main__":
    main()
