"""Landing pages and hosted forms per language: copy with fallback, form titles and success
messages, hreflang alternates, the language switch, `?lang=` then Accept-Language."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup
from flask import Flask
from helpers import STAFF_PASSWORD, csrf_token_in, log_in
from magnet_samples import PNG
from werkzeug.datastructures import MultiDict

from capture.accounts import Role, create_user
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import get_form
from magnets.filetypes import Purpose
from magnets.magnet import get_magnet
from magnets.uploads import receive, store_cover

TEXTS = {
    "sv": {
        "headline": "Ge säljarna rätt leads i rätt tid",
        "body": "Guiden visar hur du ger **poäng** för beteende.",
        "cover_alt": "Omslaget till guiden",
        "button": "Hämta guiden",
    },
    "da": {"cover_alt": "Forsiden af guiden"},
}
CONSENT = {"da": "Vi behandler dine oplysninger.", "sv": "Vi behandlar dina uppgifter."}


@pytest.fixture
def guide(make_magnet: Any, make_form: Any) -> Any:
    magnet = make_magnet(
        slug="guide",
        title="Guiden",
        headline="Giv salg de rigtige leads",
        description="Guiden viser, hvordan du giver **point**.",
        language="da",
        texts=TEXTS,
    )
    make_form(
        slug="guide-da",
        language="da",
        magnet="guide",
        conversion="ebook_download",
        title={"da": "Hent guiden gratis", "sv": "Hämta guiden gratis", "en": "Get the guide"},
        consents=[{"purpose": "processing", "required": True, "text": CONSENT}],
        success={"message": {"da": "Tak! Guiden er klar.", "sv": "Tack! Guiden är klar."}},
    )
    return magnet


def soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def alternates(page: BeautifulSoup) -> dict[str, str]:
    return {link["hreflang"]: link["href"] for link in page.select('link[rel="alternate"]')}


def test_lang_sv_shows_swedish_headline_body_form_and_success(
    app: Flask, client: Any, guide: Any
) -> None:
    page = soup(client.get("/p/guide?lang=sv"))
    assert page.html["lang"] == "sv"
    assert page.h1.get_text() == "Ge säljarna rätt leads i rätt tid"
    assert "Guiden visar hur du ger poäng för beteende." in page.article.get_text(" ", strip=True)
    assert page.article.get("lang") is None  # Swedish, like the page
    assert page.find("img", class_="lg-cover") is None  # no cover in this test
    assert page.find(id="lg-form-title").get_text() == "Hämta guiden gratis"
    form = page.find("form", class_="lg-form")
    assert form["lang"] == "sv" and form["action"] == "/f/guide-da?lang=sv"
    assert form.find("label", attrs={"for": "email"}).get_text() == "E-post"
    assert "Vi behandlar dina uppgifter." in form.get_text()
    assert form.find("button").get_text() == "Hämta guiden"
    assert page.select_one(".lg-jump a").get_text() == "Hämta guiden"
    assert alternates(page) == {
        "da": "http://localhost/p/guide?lang=da",
        "sv": "http://localhost/p/guide?lang=sv",
        "x-default": "http://localhost/p/guide",
    }  # no English copy and no English form: English is not offered
    assert page.find("link", rel="canonical")["href"] == "http://localhost/p/guide?lang=sv"
    switch = page.find("nav", class_="lg-languages")
    links = {a.get_text(): a for a in switch.find_all("a")}
    assert set(links) == {"Dansk", "Svenska"}
    assert links["Svenska"].get("aria-current") == "page"
    assert links["Dansk"]["href"] == "/p/guide?lang=da" and links["Dansk"]["lang"] == "da"

    hidden = [(i["name"], i.get("value", "")) for i in form.select("input[type=hidden]")]
    data = MultiDict([*hidden, ("email", "ane@firma.se"), ("consent_processing", "y")])
    thanks = soup(client.post(form["action"], data=data))
    assert thanks.html["lang"] == "sv"
    assert thanks.find(role="status").get_text() == "Tack! Guiden är klar."


def test_accept_language_chooses_among_the_page_languages(
    app: Flask, client: Any, guide: Any
) -> None:
    swedish = soup(client.get("/p/guide", headers={"Accept-Language": "sv-SE,sv;q=0.9"}))
    assert swedish.h1.get_text() == "Ge säljarna rätt leads i rätt tid"
    # The form is Danish, so its answer is asked for in the page's language.
    assert swedish.find("form", class_="lg-form")["action"] == "/f/guide-da?lang=sv"
    assert swedish.find("link", rel="canonical")["href"] == "http://localhost/p/guide"
    french = soup(client.get("/p/guide", headers={"Accept-Language": "fr-FR,fr"}))
    assert french.html["lang"] == "da" and french.h1.get_text() == "Giv salg de rigtige leads"
    asked = soup(client.get("/p/guide?lang=da", headers={"Accept-Language": "sv"}))
    assert asked.html["lang"] == "da"
    assert client.get("/p/guide").headers["Vary"].count("Accept-Language") == 1


def test_a_language_without_copy_falls_back_to_the_magnets(
    app: Flask, client: Any, guide: Any, app_context: None
) -> None:
    page = soup(client.get("/p/guide?lang=en"))
    assert page.html["lang"] == "en"
    assert page.h1.get_text() == "Giv salg de rigtige leads"
    assert page.article["lang"] == "da"  # the Danish text is marked as Danish
    assert page.find(id="lg-form-title").get_text() == "Get the guide"
    assert page.find("form", class_="lg-form").find("button").get_text() == "Download"
    magnet = get_magnet("guide")
    magnet.texts = {}
    db.session.commit()
    only_danish = soup(client.get("/p/guide"))
    # Copy and form in Danish alone: nothing to switch to.
    assert only_danish.find("nav", class_="lg-languages") is None
    assert alternates(only_danish) == {}


def test_the_cover_alt_text_is_per_language(app: Flask, client: Any, guide: Any) -> None:
    with app.app_context(), app.test_request_context():
        with receive(io.BytesIO(PNG), "c.png", Purpose.COVER) as received:
            store_cover(get_magnet("guide"), received)
        db.session.commit()
    assert soup(client.get("/p/guide?lang=sv")).find("img", class_="lg-cover")["alt"] == (
        "Omslaget till guiden"
    )
    danish = soup(client.get("/p/guide?lang=da"))
    assert danish.find("img", class_="lg-cover")["alt"] == "Forsiden af guiden"
    # English has none of its own: the magnet's language's.
    english = soup(client.get("/p/guide?lang=en"))
    assert english.find("img", class_="lg-cover")["alt"] == "Forsiden af guiden"


def test_form_titles_per_language_with_fallback(app: Flask, client: Any, make_form: Any) -> None:
    make_form(
        slug="newsletter",
        name="Nyhedsbrev",
        language="da",
        title={"da": "Nyhedsbrev", "sv": "Nyhetsbrev", "en": "Newsletter"},
        consents=[{"purpose": "processing", "required": True, "text": CONSENT}],
        success={"message": {"da": "Tak for din tilmelding!", "en": "Thanks for signing up!"}},
    )
    english = soup(client.get("/f/newsletter?lang=en"))
    assert english.h1.get_text() == "Newsletter" and english.title.get_text() == "Newsletter"
    assert soup(client.get("/f/newsletter?lang=sv")).h1.get_text() == "Nyhetsbrev"
    assert set(alternates(english)) == {"da", "sv", "en", "x-default"}
    assert english.find("nav", class_="lg-languages") is not None
    framed = soup(client.get("/f/newsletter?embed=1&lang=en"))
    assert framed.find("nav", class_="lg-languages") is None and not alternates(framed)
    make_form(slug="plain", name="Plain form", language="sv")
    assert soup(client.get("/f/plain?lang=da")).h1.get_text() == "Plain form"
    api = client.get("/api/v1/forms/newsletter?lang=en").get_json()
    assert api["name"] == "Newsletter"


def test_success_message_falls_back_to_the_forms_language() -> None:
    spec = parse_definition(
        {
            "slug": "x",
            "name": "X",
            "conversion": "newsletter_signup",
            "language": "da",
            "consents": [{"purpose": "processing", "required": True, "text": CONSENT}],
            "success": {"message": {"da": "Tak!", "en": "Thanks!"}},
            "title": {"da": "Nyhedsbrev", "en": "Newsletter"},
        }
    )
    assert spec.text(spec.success_message, "sv") == "Tak!"
    assert spec.title_in("sv") == "Nyhedsbrev" and spec.title_in("en") == "Newsletter"
    exported = yaml.safe_load(yaml.safe_dump(spec.to_document()))
    assert exported["title"] == {"da": "Nyhedsbrev", "en": "Newsletter"}
    assert parse_definition(exported) == spec
    untitled = parse_definition({**exported, "title": None})
    assert "title" not in untitled.to_document()  # documents without one keep their digest


def test_the_back_office_edits_the_page_per_language(
    app: Flask, guide: Any, app_context: None
) -> None:
    create_user("m@firma.dk", Role.MARKETER, STAFF_PASSWORD)
    db.session.commit()
    staff = app.test_client()
    log_in(staff, "m@firma.dk", STAFF_PASSWORD)
    edit = staff.get("/admin/magnets/guide")
    page = BeautifulSoup(edit.get_data(as_text=True), "html.parser")
    assert page.find("input", attrs={"name": "sv_headline"})["value"] == TEXTS["sv"]["headline"]
    assert page.find("input", attrs={"name": "da_headline"}) is None  # under Details
    data = {
        "csrf_token": csrf_token_in(edit.get_data(as_text=True)),
        "en_headline": "Give sales the right leads",
        "en_body": "The guide shows how to score **behaviour**.",
        "en_button": "Get the guide",
        "sv_headline": "Rätt leads i rätt tid",
        "da_button": "Hent guiden",
        "da_headline": "ignored: the Danish headline is the magnet's own",
    }
    saved = staff.post("/admin/magnets/guide/texts", data=data)
    assert saved.status_code == 303
    db.session.expire_all()
    assert get_magnet("guide").texts == {
        "da": {"button": "Hent guiden"},
        "sv": {"headline": "Rätt leads i rätt tid"},
        "en": {
            "headline": "Give sales the right leads",
            "body": "The guide shows how to score **behaviour**.",
            "button": "Get the guide",
        },
    }
    english = soup(app.test_client().get("/p/guide?lang=en"))
    assert english.h1.get_text() == "Give sales the right leads"
    assert english.article.get("lang") is None
    danish = soup(app.test_client().get("/p/guide?lang=da"))
    assert danish.h1.get_text() == "Giv salg de rigtige leads"
    assert danish.find("form", class_="lg-form").find("button").get_text() == "Hent guiden"
    no_csrf = staff.post("/admin/magnets/guide/texts", data={"en_headline": "x"})
    assert no_csrf.status_code == 400
    too_long = staff.post("/admin/magnets/guide/texts", data={**data, "en_headline": "x" * 301})
    assert too_long.status_code == 303
    db.session.expire_all()
    assert get_magnet("guide").texts["en"]["headline"] == "Give sales the right leads"
    assert re.search(r"not saved", staff.get("/admin/magnets/guide").get_data(as_text=True))


def test_landing_copy_round_trips_through_yaml(
    app: Flask, runner: Any, guide: Any, tmp_path: Any, app_context: None
) -> None:
    exported = runner.invoke(args=["magnets", "landing-export", "guide"])
    assert exported.exit_code == 0, exported.output
    document = yaml.safe_load(exported.output)
    assert document["headline"] == "Giv salg de rigtige leads"
    assert document["texts"]["sv"]["button"] == "Hämta guiden"
    document["texts"]["en"] = {"headline": "Give sales the right leads", "button": "Get it"}
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    imported = runner.invoke(args=["magnets", "landing-import", str(path)])
    assert imported.exit_code == 0, imported.output
    db.session.expire_all()
    assert get_magnet("guide").texts["en"] == {
        "headline": "Give sales the right leads",
        "button": "Get it",
    }
    document["texts"] = {"fr": {"headline": "x"}, "sv": {"colour": "red", "button": ""}}
    document["extra"] = 1
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    refused = runner.invoke(args=["magnets", "landing-import", str(path)])
    assert refused.exit_code == 1
    for problem in ("extra: unknown key", "texts.fr: unknown language", "texts.sv.colour"):
        assert problem in refused.output
    assert "texts.sv.button: must be a text" in refused.output
    db.session.expire_all()
    assert get_magnet("guide").texts["en"]["button"] == "Get it"  # nothing changed


def test_the_demo_speaks_danish_swedish_and_english(
    app: Flask, runner: Any, client: Any, app_context: None
) -> None:
    assert runner.invoke(args=["demo"]).exit_code == 0
    swedish = soup(client.get("/p/lead-scoring-guide?lang=sv"))
    assert swedish.h1.get_text() == "Ge säljarna rätt leads, vid rätt tidpunkt"
    assert "beteende" in swedish.article.get_text()
    assert swedish.find(id="lg-form-title").get_text() == "Hämta e-boken gratis"
    assert swedish.find("img", class_="lg-cover")["alt"] == "Omslaget till guiden om lead scoring"
    assert set(alternates(swedish)) == {"da", "sv", "en", "x-default"}
    english = soup(client.get("/p/lead-scoring-guide?lang=en"))
    assert english.h1.get_text() == "Give sales the right leads, at the right time"
    assert english.find("form", class_="lg-form").button.get_text() == "Get the e-book"
    assert soup(client.get("/f/newsletter?lang=en")).h1.get_text() == "Newsletter"
    assert soup(client.get("/f/newsletter?lang=sv")).h1.get_text() == "Nyhetsbrev"
    assert soup(client.get("/f/newsletter")).h1.get_text() == "Nyhedsbrev"


def test_the_form_editor_shows_and_keeps_the_titles(
    app: Flask, make_form: Any, app_context: None
) -> None:
    titles = {"da": "Nyhedsbrev", "sv": "Nyhetsbrev", "en": "Newsletter"}
    make_form(slug="newsletter", name="Nyhedsbrev", language="da", title=titles)
    create_user("m@firma.dk", Role.MARKETER, STAFF_PASSWORD)
    db.session.commit()
    staff = app.test_client()
    log_in(staff, "m@firma.dk", STAFF_PASSWORD)
    page = BeautifulSoup(
        staff.get("/admin/forms/newsletter/edit").get_data(as_text=True), "html.parser"
    )
    form = page.find("form", class_="stacked")
    data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    data.update({t["name"]: t.get_text() for t in form.find_all("textarea")})
    for select in form.find_all("select"):
        chosen = select.find("option", selected=True) or select.find("option")
        data[select["name"]] = chosen["value"]
    assert yaml.safe_load(data["body"])["title"] == titles
    data["body"] = data["body"].replace("Newsletter", "Our newsletter")
    assert staff.post("/admin/forms/newsletter/edit", data=data).status_code == 303
    db.session.expire_all()
    assert get_form("newsletter").spec.title == {**titles, "en": "Our newsletter"}
