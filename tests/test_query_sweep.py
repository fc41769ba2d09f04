"""Every GET route answers nonsense in its query string with a 4xx, never a 5xx: huge and
negative numbers, dates at the ends of the calendar, NUL bytes, invalid UTF-8, long text."""

from __future__ import annotations

import re
from typing import Any

import pytest

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
# The pages that list and filter (the lead list is also the search).
LISTS = ("/admin/", "/admin/leads/", "/admin/quarantine/", "/api/v1/leads")
SKIPPED = ("/static/", "/admin/logout", "/admin/exports")  # exports: another module's sweep


def _routes(app: Any, real: dict[str, str]) -> list[str]:
    """Every GET route, with real path values where there are some."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(SKIPPED):
            continue
        path = rule.rule
        for argument in rule.arguments:
            value = "1" if f"<int:{argument}>" in path else real.get(argument, "x")
            path = re.sub(rf"<(?:[a-z]+:)?{argument}>", value, path)
        paths.append(path)
    return sorted(set(paths))


@pytest.fixture
def real(demo_forms: Any, submit: Any) -> dict[str, str]:
    lead = submit("newsletter", {"email": "ane@firma.dk"}).get_json()["lead"]
    return {"slug": "newsletter", "lead_id": lead}


def _sweep(client: Any, headers: dict[str, str], urls: list[str]) -> list[tuple[int, str]]:
    failures = []
    for url in urls:
        response = client.get(url, headers=headers)
        if response.status_code >= 500:
            failures.append((response.status_code, url[:120]))
    return failures


def test_no_query_value_gets_a_5xx_anywhere(app, staff, api_token, real):
    """Each value in every name at once, on every GET route."""
    client, headers = staff("admin"), api_token("read")
    queries = ["&".join(f"{name}={value}" for name in NAMES) for value in VALUES]
    urls = [f"{path}?{query}" for path in _routes(app, real) for query in queries]
    failures = _sweep(client, headers, urls)
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("path", LISTS)
def test_no_filter_value_gets_a_5xx(app, staff, api_token, real, path):
    """On the pages that filter, each name alone: one refused value would hide the others,
    and values that pass the checks must reach the database and come back without a 5xx."""
    client, headers = staff("admin"), api_token("read")
    urls = [f"{path}?{name}={value}" for name in NAMES for value in VALUES]
    failures = _sweep(client, headers, urls)
    assert failures == [], "\n".join(map(str, failures))


def test_list_pages_say_which_value_they_refuse(staff, api_token):
    marketer = staff("marketer")
    for url, name in [
        ("/admin/quarantine/?before=" + "9" * 40, "before"),
        ("/admin/leads/?from=0001-01-01&score_min=-" + "9" * 40, "score_min"),
        ("/admin/leads/?partner=a%00b", "partner"),
    ]:
        page = marketer.get(url)
        assert page.status_code == 400 and page.mimetype == "text/html", url
        assert f"{name}: " in page.get_data(as_text=True), url
    assert marketer.get("/admin/leads/?from=0001-01-01&to=9999-12-30").status_code == 200
    # The first and last moments there are reach the database and come back as no error.
    read = api_token("read")
    for since in ("0001-01-01", "9999-12-31T23:59:59Z"):
        assert marketer.get(f"/api/v1/leads?since={since}", headers=read).status_code == 200
