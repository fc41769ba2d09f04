"""Every back-office and API route against every role: the guard is on each, none forgotten.

The routes come from `app.url_map`, so a route added later is checked without editing this file;
one under a prefix missing from `ALLOWED` fails until someone decides who may use it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from helpers import csrf_token_in

ROLES = ("sales", "marketer", "admin")
# Path prefix -> roles allowed besides admin (admins may do everything).
ALLOWED: dict[str, set[str]] = {
    "/admin/leads/": {"sales", "marketer"},
    "/admin/exports/": {"marketer"},
    "/admin/quarantine/": {"marketer"},
    "/admin/forms/": {"marketer"},
    "/admin/magnets/": {"marketer"},
    "/admin/pages/": {"marketer"},
    "/admin/webhooks/": set(),
    "/admin/settings/": set(),
    "/admin/erasure/": set(),
    "/admin/privacy-requests/": set(),
    "/admin/routing/": set(),
    "/admin/ownership/": set(),
    "/admin/": {"sales", "marketer"},  # the dashboard; keep last (shortest prefix)
}
# Public endpoints: the embed's form API and beacons, track.js's activity API, the OpenAPI
# document, logging in and out.
PUBLIC = ("forms_api.", "beacons.", "openapi.", "accounts.", "activity_api.")
SAMPLE = {"fmt": "csv"}


def guarded_routes(app):
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/admin/", "/api/v1/")) or rule.endpoint.startswith(PUBLIC):
            continue
        # Every <converter(args):name> becomes a sample value; any(a, b) takes its first choice.
        url = re.sub(
            r"<(?:any\(([^,)]+)[^)]*\):)?(?:\w+(?:\([^)]*\))?:)?(\w+)>",
            lambda m: (m.group(1) or "").strip() or SAMPLE.get(m.group(2), "x"),
            rule.rule,
        )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url, rule.rule))
    return found


def allowed_roles(path: str) -> set[str]:
    for prefix, roles in ALLOWED.items():
        if path.startswith(prefix):
            return roles | {"admin"}
    raise AssertionError(f"{path}: add its prefix to ALLOWED")


def call(client, method, url, token):
    data = {"csrf_token": token} if method != "GET" else None
    answer = client.open(url, method=method, data=data)
    answer.get_data()  # finish streamed answers (exports) before the next request
    answer.close()
    return answer


@pytest.fixture
def clients(app, staff):
    signed = {role: staff(role) for role in ROLES}
    signed[None] = staff(None)
    tokens = {}
    for role, client in signed.items():
        page = "/admin/login" if role is None else "/admin/"
        tokens[role] = csrf_token_in(client.get(page).get_data(as_text=True))
    return signed, tokens


def test_every_route_is_covered(app):
    routes = guarded_routes(app)
    assert len(routes) > 20
    for _method, _url, rule in routes:
        if rule.startswith("/admin/"):
            allowed_roles(rule)  # raises for a prefix nobody decided on


def test_route_by_role_matrix(app_context, app, clients):
    signed, tokens = clients
    problems = []
    for method, url, rule in guarded_routes(app):
        anonymous = call(signed[None], method, url, tokens[None])
        if rule.startswith("/api/"):
            # Bearer tokens only: neither anonymity nor a back-office session opens the API.
            for role in (None, *ROLES):
                answer = call(signed[role], method, url, tokens[role])
                if answer.status_code != 401:
                    problems.append(f"{method} {url} as {role}: {answer.status_code}, not 401")
            continue
        location = anonymous.headers.get("Location", "")
        if anonymous.status_code != 302 or not location.startswith("/admin/login?next="):
            problems.append(f"{method} {url} anonymous: {anonymous.status_code} {location}")
        for role in ROLES:
            answer = call(signed[role], method, url, tokens[role])
            status = answer.status_code
            if role in allowed_roles(rule):
                if status in (302, 401, 403) or status >= 500:
                    problems.append(f"{method} {url} as {role}: {status}, should be allowed")
            elif status != 403:
                problems.append(f"{method} {url} as {role}: {status}, not 403")
    assert problems == []


class NavLinks(HTMLParser):
    """The hrefs inside the back office's main navigation."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "nav" and "mainnav" in (attributes.get("class") or ""):
            self.inside = True
        elif tag == "a" and self.inside:
            self.hrefs.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "nav":
            self.inside = False


def nav_links(client) -> list[str]:
    parser = NavLinks()
    parser.feed(client.get("/admin/").get_data(as_text=True))
    return parser.hrefs


def assert_nav_opens(client, expected: list[str]) -> None:
    links = nav_links(client)
    assert links == expected
    for href in links:
        assert client.get(href).status_code == 200, href


def test_nav_for_sales(staff):
    assert_nav_opens(staff("sales"), ["/admin/", "/admin/leads/"])


def test_nav_for_marketer(staff):
    expected = [
        "/admin/",
        "/admin/magnets/",
        "/admin/forms/",
        "/admin/leads/",
        "/admin/quarantine/",
    ]
    assert_nav_opens(staff("marketer"), expected)


def test_nav_for_admin(staff):
    expected = [
        "/admin/",
        "/admin/magnets/",
        "/admin/forms/",
        "/admin/leads/",
        "/admin/quarantine/",
        "/admin/webhooks/",
        "/admin/privacy-requests/",
        "/admin/routing/",
        "/admin/settings/",
    ]
    assert_nav_opens(staff("admin"), expected)


def test_nav_follows_the_guard_for_every_role(app, staff):
    """Whatever the sections are, no role sees a link its guard refuses, nor misses one it
    allows: checked against the matrix above for every guarded index page."""
    for role in ROLES:
        links = set(nav_links(staff(role)))
        for prefix in ("/admin/magnets/", "/admin/forms/", "/admin/leads/", "/admin/settings/"):
            assert (prefix in links) == (role in allowed_roles(prefix)), (role, prefix)
