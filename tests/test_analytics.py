"""Views and starts without cookies, and the conversion rates built on them: the counters,
the beacon, `GET /api/v1/analytics`, the dashboard and `leadgate analytics`."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from capture.analytics.counts import PageCount
from capture.base.db import db, utcnow
from capture.delivery.outbox import OutboxMessage
from capture.delivery.webhooks.endpoint import create_endpoint
from capture.leads.lead import Lead

BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PERSON = {"User-Agent": BROWSER}
PARTNER = "https://www.partner.example"


@pytest.fixture
def landing(make_magnet: Any, make_form: Any) -> Any:
    make_magnet(slug="guide", title="The guide", language="da")
    return make_form(
        slug="guide-da", name="Guide", language="da", magnet="guide",
        conversion="ebook_download", allowed_origins=[PARTNER],
    )  # fmt: skip


def views(**where: Any) -> int:
    db.session.expire_all()
    filters = [getattr(PageCount, name) == value for name, value in where.items()]
    return int(db.session.scalar(sa.select(sa.func.sum(PageCount.views)).where(*filters)) or 0)


def convert(client: Any, email: str) -> None:
    """Fill in and send the landing page's form, as a person without JavaScript would."""
    page = client.get("/p/guide?utm_source=linkedin&utm_medium=paid", headers=PERSON).text
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    form = {**hidden, "token": token, "email": email, "consent_processing": "y"}
    assert client.post("/f/guide-da", data=form, headers=PERSON).status_code == 200


def test_ten_views_and_two_submissions_are_a_twenty_per_cent_conversion_rate(
    app_context: None, client: Any, landing: Any, api_token: Any, staff: Any, runner: Any
) -> None:
    for _ in range(8):
        page = client.get("/p/guide?utm_source=linkedin&utm_medium=paid", headers=PERSON)
        assert page.status_code == 200
    convert(client, "ane@firma.dk")
    convert(client, "bo@firma.dk")  # 8 + 2 = 10 views of the landing page
    # Not people: a prefetch (both header spellings), a crawler, a client that names none.
    client.get("/p/guide", headers={**PERSON, "Sec-Purpose": "prefetch;prerender"})
    client.get("/p/guide", headers={**PERSON, "Purpose": "prefetch"})
    client.get("/p/guide", headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    client.get("/p/guide", headers={"User-Agent": ""})
    assert views(page="guide") == 10

    answer = client.get("/api/v1/analytics?by=page", headers=api_token("read"))
    assert answer.status_code == 200, answer.text
    [item] = answer.get_json()["items"]
    assert item == {
        "key": "guide", "views": 10, "starts": 0, "submissions": 2, "mql": 2, "sql": 0,
        "conversion_rate": 0.2, "start_rate": 0.0,
    }  # fmt: skip
    by_form = client.get("/api/v1/analytics?by=form", headers=api_token("read")).get_json()
    assert [(i["key"], i["conversion_rate"]) for i in by_form["items"]] == [("guide-da", 0.2)]
    by_channel = client.get("/api/v1/analytics?by=channel", headers=api_token("read")).get_json()
    assert [(i["key"], i["views"], i["submissions"]) for i in by_channel["items"]] == [
        ("linkedin / paid", 10, 2)
    ]

    dashboard = staff("marketer").get("/admin/?days=7")
    assert dashboard.status_code == 200
    row = re.search(r'<th scope="row"><a href="[^"]*/guide-da">Guide</a></th>(.*?)</tr>',
                    dashboard.text, re.S).group(1)  # fmt: skip
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["10", "2", "20.0 %", "2", "0"]

    table = runner.invoke(args=["analytics", "--by", "page"])
    assert table.exit_code == 0, table.output
    assert re.search(r"^guide\s+10\s+0\s+2\s+2\s+0\s+20\.0 %$", table.stdout, re.M), table.stdout
    as_json = runner.invoke(args=["analytics", "--by", "page", "--format", "json"])
    assert json.loads(as_json.stdout)["items"] == [item]


def test_nothing_about_the_viewer_is_stored(app: Flask) -> None:
    columns = {column.name for column in PageCount.__table__.columns}
    assert columns == {
        "day", "digest", "form", "page", "partner", "source", "medium", "language", "variant",
        "views", "starts",
    }  # fmt: skip


def test_the_hosted_page_counts_its_views_by_language_and_partner(
    app_context: None, client: Any, make_form: Any
) -> None:
    make_form(slug="news", language="da", partner=None)
    client.get("/f/news?lang=sv&utm_source=mail", headers=PERSON)
    client.get("/f/news", headers={**PERSON, "Accept-Language": "da"})
    client.get("/f/missing", headers=PERSON)  # 404: nothing counted
    rows = db.session.scalars(sa.select(PageCount).order_by(PageCount.language)).all()
    assert [(r.form, r.language, r.source, r.views, r.page) for r in rows] == [
        ("news", "da", None, 1, None),
        ("news", "sv", "mail", 1, None),
    ]


def test_counting_never_breaks_the_page(
    app_context: None, client: Any, landing: Any, caplog: Any
) -> None:
    PageCount.__table__.drop(db.engine)  # every count fails from here on
    db.session.commit()
    try:
        assert client.get("/p/guide", headers=PERSON).status_code == 200
        assert client.get("/f/guide-da", headers=PERSON).status_code == 200
        beacon = client.post("/api/v1/beacons/guide-da", data='{"kind": "start"}', headers=PERSON)
        assert beacon.status_code == 204
    finally:
        PageCount.__table__.create(db.engine)
    assert "could not count a view" in caplog.text


def test_the_beacon_counts_views_and_starts_from_allowed_sites_only(
    app_context: None, client: Any, landing: Any, contract_error: Any
) -> None:
    def send(body: Any, origin: str | None = PARTNER, agent: str = BROWSER) -> Any:
        headers = {"User-Agent": agent, "Content-Type": "text/plain;charset=UTF-8"}
        if origin:
            headers["Origin"] = origin
        data = body if isinstance(body, str) else json.dumps(body)
        return client.post("/api/v1/beacons/guide-da?lang=da", data=data, headers=headers)

    context = {"utm_source": "news", "utm_medium": "email", "page_url": f"{PARTNER}/?x=1"}
    answer = send({"kind": "view", "context": context})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == PARTNER
    assert send({"kind": "start", "context": context}).status_code == 204
    assert send({"kind": "view"}, agent="curl/8.5.0").status_code == 204  # not counted
    contract_error(send({"kind": "view"}, origin="https://elsewhere.example"), 403)
    contract_error(send({"kind": "jump"}), 400)
    contract_error(send("not json"), 400)
    contract_error(send("[1]"), 400)
    contract_error(send("x" * 9000), 413)
    contract_error(client.post("/api/v1/beacons/nothing", data="{}", headers=PERSON), 404)
    [row] = db.session.scalars(sa.select(PageCount)).all()
    assert (row.form, row.partner, row.source, row.medium, row.language) == (
        "guide-da", None, "news", "email", "da",
    )  # fmt: skip
    assert (row.views, row.starts) == (1, 1)


def test_analytics_api_refuses_bad_parameters_in_the_contract_shape(
    app_context: None, client: Any, api_token: Any, contract_error: Any
) -> None:
    headers = api_token("read")
    today = utcnow().date()
    for query, field in (
        ("by=colour", "by"),
        ("from=yesterday", "from"),
        (f"from={today}&to={today - timedelta(days=1)}", "from"),
        (f"from={today - timedelta(days=400)}&to={today}", "to"),
    ):
        error = contract_error(client.get(f"/api/v1/analytics?{query}", headers=headers), 422)
        assert list(error["fields"]) == [field], query
    error = contract_error(client.get("/api/v1/analytics?colour=red", headers=headers), 400)
    assert list(error["fields"]) == ["colour"]
    contract_error(client.get("/api/v1/analytics"), 401, "unauthorized")
    empty = client.get(f"/api/v1/analytics?from={today}&to={today}&by=day", headers=headers)
    assert empty.get_json() == {"by": "day", "from": str(today), "to": str(today), "items": []}


def test_the_cli_refuses_a_reversed_period(runner: Any) -> None:
    result = runner.invoke(args=["analytics", "--from", "2026-02-01", "--to", "2026-01-01"])
    assert result.exit_code == 2 and "--from is after --to" in result.stderr


def test_ad_click_ids_land_in_the_touches_the_export_and_webhooks(
    app_context: None, submit: Any, make_form: Any, runner: Any
) -> None:
    make_form(slug="news")
    create_endpoint("https://crm.example/hooks")
    db.session.commit()
    ids = {"gclid": "Cj0KCQ", "gbraid": "0AAAA", "wbraid": "CkwK", "msclkid": "5a1b",
           "fbclid": "IwAR0", "li_fat_id": "9f8e"}  # fmt: skip
    answer = submit("news", {"email": "ane@firma.dk"}, context={**ids, "variant": "b"})
    assert answer.status_code == 201, answer.text
    lead = db.session.scalars(sa.select(Lead)).one()
    assert {key: lead.first_touch.get(key) for key in ids} == ids
    assert lead.last_touch["variant"] == "b"
    exported = runner.invoke(args=["leads", "export", "--format", "jsonl"])
    assert json.loads(exported.stdout.splitlines()[0])["first_touch"]["gclid"] == "Cj0KCQ"
    csv_text = runner.invoke(args=["leads", "export", "--format", "csv"]).stdout
    assert "Cj0KCQ" in csv_text and "li_fat_id" in csv_text
    events = {
        message.payload["event"]["type"]: message.payload["event"]["data"]
        for message in db.session.scalars(sa.select(OutboxMessage))
    }
    assert events["lead.created"]["lead"]["first_touch"]["fbclid"] == "IwAR0"
    assert events["conversion.recorded"]["conversion"]["attribution"]["gbraid"] == "0AAAA"


def test_no_tag_manager_unless_configured(client: Any, make_form: Any) -> None:
    make_form(slug="news")
    page = client.get("/f/news")
    assert "tags.js" not in page.text
    assert "googletagmanager" not in page.headers["Content-Security-Policy"]


@pytest.mark.app_config(TAG_MANAGER_ID="GTM-AB12CD")
def test_the_tag_manager_on_public_pages_and_the_conversion_on_the_thank_you_page(
    client: Any, make_form: Any
) -> None:
    make_form(slug="news", language="da")
    page = client.get("/f/news?utm_source=x")
    assert 'data-container="GTM-AB12CD"' in page.text and "data-event" not in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "https://www.googletagmanager.com" in policy
    login = client.get("/admin/login")  # the back office is not the marketer's to measure
    assert "tags.js" not in login.text
    assert "googletagmanager" not in login.headers["Content-Security-Policy"]
    framed = client.get("/f/news?embed=1")  # a partner's page around it: not ours either
    assert "tags.js" not in framed.text

    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page.text).group(1)
    form = {**hidden, "token": token, "email": "ane@firma.dk", "consent_processing": "y"}
    thanks = client.post("/f/news", data={**form, "variant": "b"})
    event = re.search(r'data-event="([^"]+)"', thanks.text).group(1)
    assert json.loads(event.replace("&#34;", '"')) == {
        "event": "leadgate_submit", "form": "news", "classification": "MQL",
        "language": "da", "variant": "b",
    }  # fmt: skip
    assert "ane@firma.dk" not in event


def test_a_malformed_tag_manager_id_stops_the_start(app_config: dict[str, Any]) -> None:
    from wsgi import create_app

    with pytest.raises(RuntimeError, match="LEADGATE_TAG_MANAGER_ID"):
        create_app({**app_config, "TAG_MANAGER_ID": "GTM-X'; script-src *"})
