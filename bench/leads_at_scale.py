"""Leads at scale: fills N leads in a database of its own, then times what grows with them.

    .venv/bin/python bench/leads_at_scale.py [N] [POSTGRESQL_SERVER_URL] [--only PART ...]

N defaults to 1,000,000; `--only list decay` measures just those parts (of export, list,
decay). The database is created on the server (default: the local one), migrated with
`leadgate db upgrade` as in production, filled with set-based SQL (generate_series, no ORM),
measured, and dropped. Printed, one figure a line:

- `leadgate leads export --format csv|jsonl` of every lead, as a subprocess: rows/s, and its
  peak RSS from wait4's rusage (bars: >= 50,000 rows/s, <= 150 MB);
- the back office lead list and `GET /api/v1/leads`, in-process through the Flask test client
  (a signed-in admin, a read token): server time p50/p95 over realistic filters and deep
  keyset pages (bar: p95 <= 150 ms);
- `leadgate scoring decay`, as a subprocess: seconds (bar: <= 30 s, set-based).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import DEFAULT_SERVER, BenchDatabase  # noqa: E402 - run from anywhere
from capture.accounts import Role, create_user  # noqa: E402
from capture.api.token import Scope, create_token  # noqa: E402
from capture.base.db import db, utcnow  # noqa: E402
from capture.forms.definition import parse_definition  # noqa: E402
from capture.forms.store import save_spec  # noqa: E402
from capture.leads.listing import encode_cursor  # noqa: E402
from capture.ops.demo import DEMO_FORMS  # noqa: E402
from wsgi import create_app  # noqa: E402

LEADER = str(Path(sys.executable).with_name("leadgate"))
PASSWORD = "correct horse battery staple"
REPEATS = 5  # requests per filter, after one warm-up request

# A million leads over two years, ids in creation order. Stages, scores and partners are spread
# by cheap hashes of the row number, roughly as a B2B funnel looks: half plain leads, a few
# percent customers; one lead in ten from a partner; one in fifty with a formula-like company.
FILL_LEADS = """
INSERT INTO leads (public_id, email, first_name, last_name, company, job_title, country,
  properties, lifecycle_stage, score, temperature, source, partner, first_touch, last_touch,
  last_activity_at, engagement_score, fit_score, engagement_at, created_at, updated_at)
SELECT 'lead_s' || g, 'lead' || g || '@' || (ARRAY['firma.dk', 'example.se', 'corp.no'])[1 + g % 3],
  'First' || g % 9973, 'Last' || g % 7919,
  CASE WHEN g % 50 = 0 THEN '=Company ' || g % 20011 ELSE 'Company ' || g % 20011 END,
  (ARRAY['Marketing manager', 'CTO', 'Developer', 'Head of sales'])[1 + g % 4], 'DK',
  '{"plan": "pro"}',
  CASE WHEN h < 50 THEN 'lead' WHEN h < 75 THEN 'mql' WHEN h < 83 THEN 'sal'
       WHEN h < 90 THEN 'sql' WHEN h < 94 THEN 'opportunity' WHEN h < 97 THEN 'customer'
       ELSE 'disqualified' END,
  e + f, CASE WHEN e + f >= 70 THEN 'hot' WHEN e + f >= 30 THEN 'warm' ELSE 'cold' END,
  CASE WHEN g % 10 = 0 THEN 'partner' ELSE 'inbound' END,
  CASE WHEN g % 10 = 0 THEN 'partner-' || (g / 10) % 8 END,
  '{"utm_source": "bench", "utm_medium": "email"}', '{"utm_source": "bench"}',
  created, e, f, :then, created,
  CASE WHEN g % 100 = 0 THEN :now - (g % 30) * interval '1 hour' ELSE created END
FROM (
  SELECT g, (g * 7919) % 100 AS h, (g * 37) % 71 AS e, (g * 13) % 30 AS f,
    :start + (g * (:span / :n)) * interval '1 second' AS created
  FROM generate_series(1::bigint, :n) AS g
) AS s
"""

# One conversion per lead: most on the newsletter, a quarter on the e-book, 2% on the demo form.
FILL_CONVERSIONS = """
INSERT INTO conversion_events (public_id, lead_id, form_id, kind, classification, channel,
  partner, attribution, details, occurred_at)
SELECT 'conv_s' || l.id, l.id, f.id, f.conversion, 'mql', 'form', l.partner, '{}', '{}',
  l.created_at
FROM leads l JOIN forms f ON f.slug = CASE WHEN l.id % 50 = 0 THEN :rare
  WHEN l.id % 4 = 0 THEN :second ELSE :common END
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def fill(count: int) -> None:
    now = utcnow()
    start = now - timedelta(days=730)
    started = time.perf_counter()
    db.session.execute(
        sa.text(FILL_LEADS),
        {
            "n": count,
            "start": start,
            "span": float((now - start).total_seconds()),
            "now": now,
            "then": now - timedelta(days=30),
        },
    )
    slugs = [document["slug"] for document in DEMO_FORMS]
    db.session.execute(
        sa.text(FILL_CONVERSIONS), {"common": slugs[0], "second": slugs[1], "rare": slugs[-1]}
    )
    db.session.commit()
    print(f"filled {count} leads in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    print(f"vacuum analyze in {time.perf_counter() - started:.1f} s", flush=True)


def timed(get: Callable[[], Any], repeats: int = REPEATS) -> list[float]:
    get()  # warm-up: templates compiled, plans cached
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = get()
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
    return times


def lead_list(app: Any, count: int) -> None:
    """The back office list and the API list, filter by filter, p50/p95 over all requests."""
    slugs = [document["slug"] for document in DEMO_FORMS]
    with app.app_context():
        email = f"bench-{secrets.token_hex(4)}@firma.dk"
        create_user(email, Role.ADMIN, PASSWORD)
        _row, secret = create_token("bench", Scope.READ)
        db.session.commit()
        deep = encode_cursor(max(count // 100, 2))  # back office: newest first, so id 1% is deep
        late = encode_cursor(count - count // 100)  # API: oldest first, so 99% is deep
        day = (utcnow() - timedelta(days=200)).date()
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', page
    )
    assert token, "no CSRF token on the login page"
    answer = client.post(
        "/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.status_code
    probe = f"lead{count // 3}"
    backoffice = {
        "no filter": "",
        "stage mql": "stage=mql",
        "stages sql+opportunity": "stage=sql&stage=opportunity",
        "temperature hot": "temperature=hot",
        "score 80-90": "score_min=80&score_max=90",
        "form (common)": f"form={slugs[0]}",
        "form (2%)": f"form={slugs[-1]}",
        "partner": "partner=partner-3",
        "period (one week)": f"from={day}&to={day + timedelta(days=6)}",
        "search e-mail (rare)": f"q={probe}",
        "search domain (a third)": "q=firma.dk",
        "search last name fragment": "q=last791",
        "search company": f"q=Company+{count // 97 % 20011}",
        "search, no match": "q=nobody-here",
        "search, 2 characters": "q=zq",
        "stage+temperature+partner": "stage=mql&temperature=warm&partner=partner-2",
        "deep page, no filter": f"after={deep}",
        "deep page, stage customer": f"stage=customer&after={deep}",
        "deep page, score 90-100": f"score_min=90&score_max=100&after={deep}",
        "deep page, form (2%)": f"form={slugs[-1]}&after={deep}",
    }
    _report("lead list", client, "/admin/leads/?", backoffice, {})
    bearer = {"Authorization": f"Bearer {secret}"}
    recent = quote((utcnow() - timedelta(days=1)).isoformat())
    api = {
        "no filter": "",
        "stage sql": "stage=sql",
        "temperature hot": "temperature=hot",
        "score 80-90": "score_min=80&score_max=90",
        "since yesterday": f"since={recent}",
        "partner": "partner=partner-3",
        "form (2%)": f"form={slugs[-1]}",
        "limit 100": "limit=100",
        "deep cursor, no filter": f"cursor={late}",
        "deep cursor, stage customer": f"stage=customer&cursor={late}",
        "deep cursor, form (2%)": f"form={slugs[-1]}&cursor={late}",
    }
    _report("api leads", client, "/api/v1/leads?", api, bearer)


def _report(
    name: str, client: Any, base: str, filters: dict[str, str], headers: dict[str, str]
) -> None:
    every: list[float] = []
    for label, query in filters.items():
        times = timed(lambda query=query: client.get(base + query, headers=headers))
        every += times
        print(
            f"{name} [{label}]: p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms",
            flush=True,
        )
    print(
        f"{name}: {len(every)} requests, p50 {percentile(every, 0.5):.1f} ms, "
        f"p95 {percentile(every, 0.95):.1f} ms",
        flush=True,
    )


def export(fmt: str, count: int, env: dict[str, str]) -> None:
    """One export as a child process; its peak RSS is the kernel's high-water mark, VmHWM.

    (Not getrusage or wait4: a child forked from this large process inherits its high-water
    mark across exec, so those would report this process's memory, not the export's.)
    """
    started = time.perf_counter()
    peak = 0
    with open(os.devnull, "wb") as sink:
        child = subprocess.Popen(
            [LEADER, "leads", "export", "--format", fmt],
            stdout=sink, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
        )  # fmt: skip
        status = Path(f"/proc/{child.pid}/status")
        while child.poll() is None:
            with suppress(OSError):
                found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
                peak = max(peak, int(found.group(1)) if found else 0)
            time.sleep(0.05)
    took = time.perf_counter() - started
    if child.returncode:
        raise SystemExit(f"export {fmt} failed with {child.returncode}")
    print(
        f"export {fmt}: {count / took:,.0f} rows/s ({took:.1f} s), peak RSS {peak / 1024:.0f} MB",
        flush=True,
    )


def decay(env: dict[str, str]) -> None:
    started = time.perf_counter()
    completed = subprocess.run(
        [LEADER, "scoring", "decay"], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    took = time.perf_counter() - started
    changed = re.search(r"(\d+)", completed.stdout)
    leads = changed.group(1) if changed else "?"
    print(f"decay: {leads} leads changed in {took:.1f} s", flush=True)


PARTS = ("export", "list", "decay")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=1_000_000)
    parser.add_argument("server", nargs="?", default=DEFAULT_SERVER)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    options = parser.parse_args()
    count = options.count
    database = BenchDatabase(options.server)
    env = os.environ | {"DATABASE_URL": database.url_string, "SECRET_KEY": secrets.token_hex(32)}
    env.pop("LEADGATE_ENV", None)
    try:
        database.create(env)
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": database.url_string, "SECRET_KEY": env["SECRET_KEY"]}
        )
        with app.app_context():
            for document in DEMO_FORMS:
                save_spec(parse_definition(document))
            db.session.commit()
            fill(count)
        if "list" in options.only:
            lead_list(app, count)
        with app.app_context():
            db.engine.dispose()
        if "export" in options.only:
            export("csv", count, env)
            export("jsonl", count, env)
        if "decay" in options.only:
            decay(env)
    finally:
        database.drop()


if __name__ == "__main__":
    main()
