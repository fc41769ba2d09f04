"""Every GET route answers nonsense in its query string with a 4xx, never a 5xx: huge and
negative numbers, dates at the ends of the calendar, NUL bytes, invalid UTF-8, long text."""

from __future__ import annotations

from typing import Any

import pytest

from capture.db import db

# Every query parameter a route reads anywhere, and a few it does not.
NAMES = (
    "score_min", "score_max", "before", "after", "from", "to", "q", "days", "stage",
    "temperature", "form", "partner", "since", "limit", "cursor", "email", "lang", "v",
    "embed", "next", "page",
)  # fmt: skip
VALUES = (
    "9" * 40,
    "-" + "9" * 40,
    "-1",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "%00",
    "a%00b",
    "%ff%fe",
    "%C3%28",
    "x" * 5000,
    "1e400",
)
SKIPPED = ("/static/", "/admin/logout", "/admin/exports")  # exports: another module's sweep


def _routes(app: Any, real: dict[str, str]) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(SKIPPED):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<{argument}>", real.get(argument, "x"))
            path = path.replace(f"<string:{argument}>", real.get(argument, "x"))
            path = path.replace(f"<int:{argument}>", "1")
            path = path.replace(f"<path:{argument}>", real.get(argument, "x"))
        paths.append(path)
    return sorted(set(paths))


@pytest.fixture
def real(demo_forms: Any, submit: Any) -> dict[str, str]:
    lead = submit("newsletter", {"email": "ane@firma.dk"}).get_json()["lead"]
    return {"slug": "newsletter", "lead_id": lead}


def test_no_query_value_gets_a_5xx(app, staff, api_token, real):
    client = staff("admin")
    headers = api_token("read")
    db.session.commit()
    failures = []
    for path in _routes(app, real):
        for name in NAMES:
            for value in VALUES:
                url = f"{path}?{name}={value}"
                response = client.get(url, headers=headers)
                if response.status_code >= 500:
                    failures.append((response.status_code, url[:120]))
    assert failures == [], "\n".join(map(str, failures))
