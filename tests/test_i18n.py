"""Danish and Swedish: complete catalogues, in step with the code, and used by the app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "capture" / "translations"
LOCALES = ("da", "sv")
# The same keywords as `make messages` (pybabel takes them on the command line only).
KEYWORDS = ("_", "_l", "gettext", "ngettext", "lazy_gettext")
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdifeEgGxXor%]")


def catalogue(locale: str) -> Catalog:
    with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


def placeholders(text: str) -> list[str]:
    return sorted(p for p in PLACEHOLDER.findall(text) if p != "%%")


def pairs(message: Any) -> list[tuple[str, str]]:
    """(msgid, msgstr) for each form of a message: one, or singular and plurals."""
    if isinstance(message.id, tuple):
        singular, plural = message.id
        return [(singular if i == 0 else plural, s) for i, s in enumerate(message.string)]
    return [(message.id, message.string)]


@pytest.fixture(scope="module")
def code_msgids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every string marked in the code now, extracted as `make messages` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    args = ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot)]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    CommandLineInterface().run([*args, str(ROOT)])
    with pot.open("rb") as template:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(template) if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    translations = catalogue(locale)
    assert not translations.fuzzy, f"{locale}: the header is fuzzy, so nothing would compile"
    problems = []
    for message in translations:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        for msgid, msgstr in pairs(message):
            if not msgstr.strip():
                problems.append(f"untranslated: {msgid!r}")
            elif placeholders(msgid) != placeholders(msgstr):
                problems.append(f"placeholders differ: {msgid!r} -> {msgstr!r}")
    problems += [f"{m.id!r}: {'; '.join(map(str, e))}" for m, e in translations.check()]
    assert not problems, f"{locale}/LC_MESSAGES/messages.po:\n" + "\n".join(problems)


def test_extraction_finds_the_marked_strings(code_msgids: set[str]) -> None:
    # Guards the check below: a broken babel.cfg would extract nothing and pass it vacuously.
    assert {"Send", "optional", "Use at most %(max)d characters."} <= code_msgids


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_has_every_string_in_the_code(locale: str, code_msgids: set[str]) -> None:
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(locale) if m.id}
    missing = sorted(code_msgids - known)
    assert not missing, (
        f"{len(missing)} string(s) in the code are not in {locale}/LC_MESSAGES/messages.po; "
        "run `make messages` and translate them:\n" + "\n".join(map(repr, missing))
    )


@pytest.fixture
def compiled() -> None:
    """The app reads the committed .mo files; they must say what their .po files say (by
    content, not file times: a clone sets those in any order)."""
    for locale in LOCALES:
        po = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo.relative_to(ROOT)} is missing: run `make translations`"
        with mo.open("rb") as file:
            built = {m.id: m.string for m in read_mo(file) if m.id}
        wanted = {m.id: m.string for m in catalogue(locale) if m.id and m.string and not m.fuzzy}
        assert built == wanted, f"{mo.relative_to(ROOT)} is stale: run `make translations`"


def test_hosted_form_speaks_its_language(client, demo_forms, compiled) -> None:
    page = client.get("/f/newsletter").get_data(as_text=True)
    assert '<html lang="da">' in page
    assert "(valgfrit)" in page and "Lad dette felt være tomt" in page
    assert "Fornavn" in page  # the definition's own Danish label
    assert "(optional)" not in page


def test_lang_parameter_switches_the_hosted_form(client, demo_forms, compiled) -> None:
    swedish = client.get("/f/newsletter?lang=sv").get_data(as_text=True)
    assert '<html lang="sv">' in swedish
    assert ">Skicka</button>" in swedish
    assert "E-post" in swedish and "(valfritt)" in swedish and "Förnamn" in swedish

    english = client.get("/f/newsletter?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert ">Send</button>" in english
    assert "E-mail" in english and "(optional)" in english and "Leave this empty" in english


def test_unknown_lang_falls_back_to_the_form_language(client, demo_forms, compiled) -> None:
    page = client.get("/f/newsletter?lang=de").get_data(as_text=True)
    assert '<html lang="da">' in page and "(valgfrit)" in page


def test_validation_errors_come_back_in_the_form_language(demo_forms, submit, compiled) -> None:
    response = submit("newsletter", {"email": "not-an-address"}, consents={})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] == "Ret venligst de markerede felter."
    assert error["fields"]["email"] == ["Indtast en gyldig e-mailadresse."]
    assert error["fields"]["consents.processing"] == [
        "Du skal acceptere dette for at sende formularen."
    ]


def test_form_language_wins_over_the_browser(demo_forms, submit, compiled) -> None:
    response = submit("contact", {"email": "nope"}, headers={"Accept-Language": "sv"})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["email"] == ["Enter a valid e-mail address."]


def test_definition_texts_in_the_asked_language(client, demo_forms, compiled) -> None:
    swedish = client.get("/api/v1/forms/newsletter?lang=sv").get_json()
    assert swedish["language"] == "sv"
    assert swedish["texts"]["submit"] == "Skicka"
    assert swedish["texts"]["failed"] == "Hoppsan! Något gick fel. Ditt meddelande skickades inte."
    assert swedish["texts"]["optional"] == "valfritt"
    labels = {field["name"]: field["label"] for field in swedish["fields"]}
    assert labels == {"email": "E-post", "first_name": "Förnamn"}

    danish = client.get("/api/v1/forms/newsletter").get_json()
    assert danish["texts"]["failed"] == "Ups! Noget gik galt. Din besked blev ikke sendt."
    assert danish["texts"]["sending"] == "Sender..."


# One request per test below: the app fixture keeps one app context (and so one `g`, where
# Flask-Babel caches the locale) across a test's requests, unlike a real server.
def test_pages_without_a_form_follow_the_browser(client, compiled) -> None:
    missing = client.get("/f/no-such-form", headers={"Accept-Language": "sv-SE,sv;q=0.9"})
    assert missing.status_code == 404
    assert "Det finns inget formulär på den här adressen." in missing.get_data(as_text=True)


def test_pages_without_a_form_follow_lang_before_the_browser(client, compiled) -> None:
    api = client.get("/api/v1/forms/no-such-form?lang=da", headers={"Accept-Language": "sv"})
    assert api.status_code == 404
    assert api.get_json()["error"]["message"] == "Der findes ingen formular på denne adresse."
