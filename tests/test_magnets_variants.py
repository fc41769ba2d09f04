"""A/B variants of a landing page: drawn per view with nothing stored on the visitor's device,
carried by the form into the conversion's attribution, counted, judged (P(best)), and ended by
"make winner"."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask import Flask
from helpers import STAFF_PASSWORD, csrf_token_in, log_in
from magnet_samples import PNG
from werkzeug.datastructures import MultiDict

from capture.accounts import Role, create_user
from capture.analytics.counts import PageCount
from capture.base.db import db
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead
from magnets.magnet import get_magnet
from magnets.variant_stats import probability_best
from magnets.variants import LandingVariant, variant_key

ORIGINAL = "Giv salg de rigtige leads"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0"
CHALLENGER = "Færre kolde leads til salg"


@pytest.fixture
def guide(make_magnet: Any, make_form: Any) -> Any:
    magnet = make_magnet(
        slug="guide", title="Guiden", headline=ORIGINAL, description="Tekst.", language="da"
    )
    make_form(slug="guide-da", language="da", magnet="guide", conversion="ebook_download")
    return magnet


@pytest.fixture(autouse=True)
def browser_agent(client: Any) -> None:
    """Views are counted for browsers only (capture.analytics): the test client is one."""
    client.environ_base["HTTP_USER_AGENT"] = BROWSER


def variant_views() -> dict[str, int]:
    """Views per variant in the analytics counters, where the A/B results read them."""
    rows = db.session.execute(
        sa.select(PageCount.variant, sa.func.sum(PageCount.views))
        .where(PageCount.variant.is_not(None))
        .group_by(PageCount.variant)
    )
    return {key: int(total) for key, total in rows}


@pytest.fixture
def staff(app: Flask) -> Any:
    with app.app_context():
        create_user("m@firma.dk", Role.MARKETER, STAFF_PASSWORD)
        db.session.commit()
    client = app.test_client()
    assert log_in(client, "m@firma.dk", STAFF_PASSWORD).status_code == 303
    return client


def page_of(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def add_variant(staff: Any, **fields: Any) -> Any:
    edit = staff.get("/admin/magnets/guide").get_data(as_text=True)
    data = {"variant-csrf_token": csrf_token_in(edit), **fields}
    return staff.post("/admin/magnets/guide/variants", data=data)


def shown_variant(page: BeautifulSoup) -> str | None:
    hidden = page.find("input", attrs={"type": "hidden", "name": "variant"})
    return hidden["value"] if hidden else None


def convert(client: Any, page: BeautifulSoup, email: str) -> None:
    form = page.find("form", class_="lg-form")
    hidden = [(i["name"], i.get("value", "")) for i in form.select("input[type=hidden]")]
    data = MultiDict([*hidden, ("email", email), ("consent_processing", "y")])
    assert client.post(form["action"], data=data).status_code == 200


def results_table(staff: Any) -> dict[str, list[str]]:
    page = page_of(staff.get("/admin/magnets/guide"))
    rows = page.find("table", class_="variants").tbody.find_all("tr")
    return {
        row.th.get_text(" ", strip=True).split()[0]: [
            td.get_text(" ", strip=True) for td in row.find_all("td")
        ]
        for row in rows
    }


def test_a_page_with_two_variants_reports_each_and_make_winner_ends_the_test(
    app: Flask, client: Any, guide: Any, staff: Any, app_context: None
) -> None:
    before = page_of(client.get("/p/guide"))
    assert shown_variant(before) is None  # no test yet: nothing extra in the form
    assert "No test is running" in staff.get("/admin/magnets/guide").get_data(as_text=True)

    added = add_variant(staff, **{"variant-da_headline": CHALLENGER, "variant-da_button": "Hent"})
    assert added.status_code == 303
    keys = [v.key for v in db.session.scalars(sa.select(LandingVariant).order_by("id"))]
    assert keys == ["a", "b"]  # the original page is the control, "a"

    seen: dict[str, BeautifulSoup] = {}
    for _view in range(200):  # random per view: both show up long before 200 views
        page = page_of(client.get("/p/guide"))
        key = shown_variant(page)
        assert key in {"a", "b"}
        assert page.h1.get_text() == (CHALLENGER if key == "b" else ORIGINAL)
        seen.setdefault(key, page)
        if len(seen) == 2:
            break
    assert set(seen) == {"a", "b"}
    # Nothing on the visitor's device: no cookie set by a landing view.
    response = client.get("/p/guide")
    assert "Set-Cookie" not in response.headers
    views = variant_views()
    total_views = _view + 2
    assert sum(views.values()) == total_views

    convert(client, seen["b"], "ane@firma.dk")
    convert(client, seen["b"], "bo@firma.dk")
    convert(client, seen["a"], "carl@firma.dk")
    attributed = sorted(
        c.attribution["variant"] for c in db.session.scalars(sa.select(ConversionEvent))
    )
    assert attributed == ["a", "b", "b"]
    ane = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    assert ane.first_touch["variant"] == "b" and ane.last_touch["variant"] == "b"

    table = results_table(staff)
    assert set(table) == {"A", "B"}
    assert table["A"][1] == str(views["a"]) and table["B"][1] == str(views["b"])
    assert table["A"][2] == "1" and table["B"][2] == "2"
    assert table["B"][3] == f"{200 / views['b']:.1f} %"
    chances = [int(table[k][4].rstrip(" %")) for k in ("A", "B")]
    assert 98 <= sum(chances) <= 102 and all(0 <= c <= 100 for c in chances)
    assert table["A"][0] == ORIGINAL and table["B"][0] == CHALLENGER

    edit = staff.get("/admin/magnets/guide").get_data(as_text=True)
    token = csrf_token_in(edit)
    assert staff.post("/admin/magnets/guide/variants/b/win").status_code == 400  # no CSRF
    won = staff.post("/admin/magnets/guide/variants/b/win", data={"csrf_token": token})
    assert won.status_code == 303
    db.session.expire_all()
    magnet = get_magnet("guide")
    assert magnet.headline == CHALLENGER and magnet.texts == {"da": {"button": "Hent"}}
    statuses = {v.key: v.status for v in db.session.scalars(sa.select(LandingVariant))}
    assert statuses == {"a": "retired", "b": "won"}
    for _view in range(10):  # retired variants are no longer served
        page = page_of(client.get("/p/guide"))
        assert shown_variant(page) is None and page.h1.get_text() == CHALLENGER
        assert page.find("form", class_="lg-form").button.get_text() == "Hent"
    assert "No test is running" in staff.get("/admin/magnets/guide").get_data(as_text=True)
    again = staff.post("/admin/magnets/guide/variants/a/win", data={"csrf_token": token})
    assert again.status_code == 404

    # A next test never reuses a key, so its counts start from nothing.
    add_variant(staff, **{"variant-da_headline": "Tredje bud"})
    assert {v.key for v in db.session.scalars(sa.select(LandingVariant))} == {"a", "b", "c", "d"}
    assert set(results_table(staff)) == {"C", "D"}


def test_a_variant_runs_only_in_the_languages_it_is_written_in(
    app: Flask, client: Any, guide: Any, staff: Any, app_context: None
) -> None:
    add_variant(staff, **{"variant-sv_headline": "Rätt leads"})
    for _view in range(20):
        assert shown_variant(page_of(client.get("/p/guide?lang=da"))) is None
    assert variant_views() == {}


def test_a_variant_with_its_own_cover(
    app: Flask, client: Any, guide: Any, staff: Any, app_context: None
) -> None:
    edit = staff.get("/admin/magnets/guide").get_data(as_text=True)
    data = {"variant-csrf_token": csrf_token_in(edit), "variant-cover": (io.BytesIO(PNG), "c.png")}
    response = staff.post(
        "/admin/magnets/guide/variants", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    for _view in range(200):
        page = page_of(client.get("/p/guide"))
        if shown_variant(page) == "b":
            break
    cover = page.find("img", class_="lg-cover")["src"].removeprefix("http://localhost")
    assert cover.startswith("/p/guide/cover?variant=b&v=")
    served = client.get(cover)
    assert served.status_code == 200 and served.get_data() == PNG
    served.close()
    bad = add_variant(staff)
    assert bad.status_code == 303
    flashed = staff.get("/admin/magnets/guide").get_data(as_text=True)
    assert "The variant was not added" in flashed


def test_make_winner_needs_a_marketer(app: Flask, guide: Any, app_context: None) -> None:
    create_user("s@firma.dk", Role.SALES, STAFF_PASSWORD)
    db.session.commit()
    sales = app.test_client()
    log_in(sales, "s@firma.dk", STAFF_PASSWORD)
    token = csrf_token_in(sales.get("/admin/").get_data(as_text=True))
    denied = sales.post("/admin/magnets/guide/variants/a/win", data={"csrf_token": token})
    assert denied.status_code == 403
    anonymous = app.test_client().get("/admin/magnets/guide")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_probability_best_follows_the_evidence() -> None:
    clear = probability_best([(1000, 50), (1000, 100)])
    assert clear[1] > 0.99 and abs(sum(clear) - 1) < 1e-9
    even = probability_best([(100, 10), (100, 10)])
    assert 0.4 < even[0] < 0.6
    assert probability_best([(0, 0), (0, 0), (0, 0)]) == probability_best([(0, 0)] * 3)
    assert probability_best([]) == []
    assert [variant_key(i) for i in (0, 1, 25, 26, 27)] == ["a", "b", "z", "aa", "ab"]


def test_prefetches_and_bots_are_not_counted(
    app: Flask, client: Any, guide: Any, staff: Any, app_context: None
) -> None:
    add_variant(staff, **{"variant-da_headline": CHALLENGER})
    client.get("/p/guide", headers={"Sec-Purpose": "prefetch"})
    client.get("/p/guide", headers={"Purpose": "prefetch"})
    client.get("/p/guide", headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    assert variant_views() == {}
    client.get("/p/guide", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133"})
    assert sum(variant_views().values()) == 1


def test_the_variant_survives_a_form_sent_back_with_errors(
    app: Flask, client: Any, guide: Any, staff: Any, app_context: None
) -> None:
    add_variant(staff, **{"variant-da_headline": CHALLENGER})
    page = page_of(client.get("/p/guide?utm_source=linkedin"))
    key = shown_variant(page)
    form = page.find("form", class_="lg-form")
    hidden = [(i["name"], i.get("value", "")) for i in form.select("input[type=hidden]")]
    again = client.post(form["action"], data=MultiDict([*hidden, ("email", "not an address")]))
    assert again.status_code == 422
    sent_back = BeautifulSoup(again.get_data(as_text=True), "html.parser")
    assert shown_variant(sent_back) == key
    kept = {i["name"]: i.get("value") for i in sent_back.select("form input[type=hidden]")}
    assert kept["utm_source"] == "linkedin" and kept["page_url"] == "http://localhost/p/guide"


def test_the_original_can_win_too(
    app: Flask, client: Any, guide: Any, staff: Any, app_context: None
) -> None:
    add_variant(staff, **{"variant-da_headline": CHALLENGER, "variant-da_button": "Hent"})
    token = csrf_token_in(staff.get("/admin/magnets/guide").get_data(as_text=True))
    won = staff.post("/admin/magnets/guide/variants/a/win", data={"csrf_token": token})
    assert won.status_code == 303
    db.session.expire_all()
    magnet = get_magnet("guide")
    assert magnet.headline == ORIGINAL and not magnet.texts
    statuses = {v.key: v.status for v in db.session.scalars(sa.select(LandingVariant))}
    assert statuses == {"a": "won", "b": "retired"}
    for _view in range(10):
        page = page_of(client.get("/p/guide"))
        assert shown_variant(page) is None and page.h1.get_text() == ORIGINAL
