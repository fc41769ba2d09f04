"""Parsing form definitions: every problem reported with its path, canonical documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.forms.definition import parse_definition
from capture.forms.spec import LEAD_FIELD_LIMITS, DefinitionError, FormSpec
from capture.leads.lead import Lead

PROCESSING = {"purpose": "processing", "required": True, "text": {"en": "We process it."}}


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "slug": "ebook-lead-scoring",
        "name": "E-book: the lead scoring guide",
        "conversion": "ebook_download",
        "language": "da",
        "fields": [
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text", "label": {"da": "Fornavn", "en": "First name"}},
            {"name": "company_size", "type": "select", "options": ["1-10", "11-50", "51-200"]},
            {"name": "utm_campaign", "type": "hidden", "source": "query"},
        ],
        "consents": [
            PROCESSING,
            {"purpose": "marketing", "required": False, "text": {"da": "Ja tak", "en": "Yes"}},
        ],
        "success": {"message": {"da": "Tak", "en": "Thanks"}, "redirect": None},
        "allowed_origins": ["https://www.partner.example"],
    }
    base.update(changes)
    return base


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def test_a_valid_definition():
    spec = parse_definition(document())
    assert spec.slug == "ebook-lead-scoring"
    assert [f.name for f in spec.fields] == ["email", "first_name", "company_size", "utm_campaign"]
    assert [o.value for o in spec.field("company_size").options] == ["1-10", "11-50", "51-200"]
    assert spec.field("first_name").label == {"da": "Fornavn", "en": "First name"}
    assert spec.allowed_origins == ("https://www.partner.example",)
    assert spec.success_message == {"da": "Tak", "en": "Thanks"}


def test_email_is_always_there_and_required():
    spec = parse_definition(document(fields=[{"name": "first_name", "type": "text"}]))
    email = spec.fields[0]
    assert (email.name, email.type, email.required) == ("email", "email", True)
    spec = parse_definition(document(fields=[{"name": "email", "type": "email"}]))
    assert spec.field("email").required


def test_every_problem_is_reported_with_its_path():
    raw = document(
        slug="Not A Slug",
        conversion="podcast_listen",
        language="de",
        colour="blue",
        fields=[
            {"name": "email", "type": "text"},
            {"name": "Bad Name", "type": "text"},
            {"name": "size", "type": "select"},
            {"name": "age", "type": "slider"},
            {"name": "notes", "type": "textarea", "max_length": 0, "colour": "red"},
            {"name": "notes", "type": "textarea"},
            "company",
        ],
        consents=[
            {"purpose": "marketing", "required": True, "text": {"en": "News"}},
            {"purpose": "selling", "required": False, "text": "x"},
            {"purpose": "marketing", "required": "yes", "text": {"fr": "Oui"}},
        ],
        allowed_origins=["ftp://files.example", "https://ok.example/path"],
        success={"message": {"en": ""}, "redirect": "https://evil.example/"},
        double_opt_in="yes",
    )
    problems = problems_of(raw)
    expected = [
        "colour: unknown key",
        "slug: must be 1-80 lower-case letters, digits and hyphens",
        "conversion: unknown conversion kind 'podcast_listen'",
        "language: must be one of da, sv, en",
        "fields[0] (email).type: the email field must have type email",
        "fields[1].name: must be lower-case letters, digits and _",
        "fields[2] (size).options: a select field needs a list of options",
        "fields[3] (age).type: unknown type 'slider'",
        "fields[4].colour: unknown key",
        "fields[4] (notes).max_length: must be a whole number from 1 to 20000",
        "fields[6]: must be a mapping with name and type",
        "fields: field 'notes' appears more than once",
        "consents[0].required: marketing consent cannot be required",
        "consents[1].purpose: must be one of",
        "consents[2].required: must be true or false",
        "consents[2].text.fr: unknown language",
        "consents[2].text: needs at least one text",
        "consents: each purpose may appear once",
        "consents: a processing consent",
        "allowed_origins[0]: must be an origin like https://www.example.com",
        "allowed_origins[1]: must be an origin like https://www.example.com",
        "success.redirect: must be a path on this site",
        "double_opt_in: must be true or false",
        "success.message.en: must be a non-empty text",
    ]
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)
    assert len(problems) == len(expected), problems


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "definition: must be a mapping"),
        ("slug: x", "definition: must be a mapping"),
        ({"slug": "a"}, "name: is required"),
        (document(fields={"email": "email"}), "fields: must be a list"),
        (document(consents="processing"), "consents: must be a list"),
        (document(consents=[]), "consents: a processing consent"),
        (document(allowed_origins="https://a.example"), "allowed_origins: must be a list"),
        (document(success="Thanks"), "success: must be a mapping"),
        (document(status="draft"), "status: must be active or closed"),
        (document(magnet="Not a slug"), "magnet: must be a magnet slug"),
        (document(partner=["p"]), "partner: must be a partner slug"),
        (
            document(fields=[{"name": "plan", "type": "radio", "options": ["a", "a"]}]),
            "fields[0] (plan).options: values must be unique",
        ),
        (
            document(fields=[{"name": "plan", "type": "text", "options": ["a"]}]),
            "fields[0] (plan).options: a text field takes no options",
        ),
        (
            document(fields=[{"name": "plan", "type": "select", "options": [["a"]]}]),
            "fields[0] (plan).options[0]: must be a value or {value, label}",
        ),
        (
            document(fields=[{"name": "ref", "type": "text", "source": "query"}]),
            "fields[0] (ref).source: only hidden fields take a source",
        ),
        (
            document(fields=[{"name": "ok", "type": "text", "label": ["x"]}]),
            "fields[0] (ok).label: must be a text or a mapping of language to text",
        ),
        (
            document(fields=[{"name": "ok", "type": "text", "required": "true"}]),
            "fields[0] (ok).required: must be true or false",
        ),
        (
            document(consents=[{"purpose": "processing", "required": True}]),
            "consents[0].text: is required",
        ),
    ],
)
def test_single_problems(raw, problem):
    assert any(p.startswith(problem) for p in problems_of(raw)), problems_of(raw)


@pytest.mark.parametrize(
    "redirect",
    [
        "//evil.example/",
        "https://evil.example/thanks",
        "http://www.partner.example.evil.example/",
        "https://www.partner.example@evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/thanks\r\nLocation: https://evil.example",
        "javascript:alert(1)",
        "data:text/html,hi",
        " //evil.example",
        "https:evil.example",
        "",
        42,
        ["/thanks"],
    ],
)
def test_open_redirects_are_refused(redirect):
    problems = problems_of(document(success={"redirect": redirect}))
    assert any(p.startswith("success.redirect: must be a path on this site") for p in problems)


@pytest.mark.parametrize(
    "redirect",
    [
        "/thanks",
        "/thanks?from=form#top",
        "https://www.partner.example/thanks",
        "https://WWW.Partner.example:443/tak",
    ],
)
def test_same_site_and_allowed_origin_redirects_are_accepted(redirect):
    assert parse_definition(document(success={"redirect": redirect})).success_redirect == redirect


@pytest.mark.parametrize(
    "origins",
    [
        ["https://www.partner.example:99999"],
        ["https://[::1"],
        ["https://www.partner.example:port"],
    ],
)
def test_an_unreadable_origin_is_a_problem_not_a_crash(origins):
    problems = problems_of(document(allowed_origins=origins))
    assert any(p.startswith("allowed_origins[0]: must be an origin") for p in problems), problems


def test_a_redirect_with_an_unreadable_port_is_a_problem_not_a_crash():
    problems = problems_of(document(success={"redirect": "https://www.partner.example:99999/"}))
    assert any(p.startswith("success.redirect:") for p in problems), problems


def test_origins_are_normalised_and_deduplicated():
    spec = parse_definition(
        document(
            allowed_origins=[
                "https://WWW.Partner.Example/",
                "https://www.partner.example:443",
                "http://localhost:8080",
            ]
        )
    )
    assert spec.allowed_origins == ("https://www.partner.example", "http://localhost:8080")


def test_origins_are_normalised_as_browsers_send_them():
    """IPv6 literals keep their brackets and Unicode hosts become punycode, as in `Origin`."""
    spec = parse_definition(
        document(allowed_origins=["http://[::1]:8080", "https://Blåbær.dk", "HTTPS://x.example"])
    )
    assert spec.allowed_origins == (
        "http://[::1]:8080",
        "https://xn--blbr-roah.dk",
        "https://x.example",
    )


@pytest.mark.parametrize(
    ("name", "capacity"), [("company", 300), ("phone", 40), ("country", 2), ("website", 2048)]
)
def test_a_lead_field_cannot_be_longer_than_the_lead_keeps(name, capacity):
    kind = {"phone": "tel", "country": "country", "website": "url"}.get(name, "text")
    raw = document(fields=[{"name": name, "type": kind, "max_length": capacity + 1}])
    assert any(
        p.startswith(f"fields[0] ({name}).max_length: at most {capacity}") for p in problems_of(raw)
    )
    spec = parse_definition(document(fields=[{"name": name, "type": kind}]))
    assert spec.field(name).limit <= capacity


def test_lead_field_capacities_match_the_lead_table():
    """The parser is pure, so it keeps its own copy of the column sizes: keep them equal."""
    for name, limit in LEAD_FIELD_LIMITS.items():
        length = Lead.__table__.c[name].type.length
        assert limit == length, name


def test_to_document_round_trips_and_the_digest_is_stable():
    spec = parse_definition(document(status="closed", partner="partner-example"))
    again = parse_definition(spec.to_document())
    assert again == spec
    assert again.digest() == spec.digest()
    assert parse_definition(document(name="Another name")).digest() != spec.digest()


def test_texts_are_trimmed_and_a_plain_string_is_english():
    spec = parse_definition(document(success={"message": "  Thanks!  "}))
    assert spec.success_message == {"en": "Thanks!"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "slug",
    "name",
    "conversion",
    "language",
    "magnet",
    "fields",
    "consents",
    "double_opt_in",
    "success",
    "allowed_origins",
    "partner",
    "status",
    "description",
]
FIELD_KEYS = ["name", "type", "required", "label", "options", "max_length", "source", "help"]
URLISH = st.sampled_from(
    [
        "https://a.example:99999",
        "https://[::1",
        "http://x:port",
        "https://ok.example",
        "//x",
        "/ok",
        "https://\x00.example",
    ]
)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_document_parses_or_is_refused_with_problems(data):
    """Whatever the YAML holds, parsing ends in a spec or a DefinitionError, never a crash."""
    raw = copy.deepcopy(document())
    for _ in range(data.draw(st.integers(0, 4))):
        target = data.draw(st.sampled_from(["top", "field", "consent", "origin", "redirect"]))
        value = data.draw(json_values | URLISH)
        if target == "top":
            raw[data.draw(st.sampled_from(KEYS))] = value
        elif target == "field" and isinstance(raw.get("fields"), list) and raw["fields"]:
            field = raw["fields"][data.draw(st.integers(0, len(raw["fields"]) - 1))]
            if isinstance(field, dict):
                field[data.draw(st.sampled_from(FIELD_KEYS))] = value
        elif target == "consent" and isinstance(raw.get("consents"), list) and raw["consents"]:
            consent = raw["consents"][0]
            if isinstance(consent, dict):
                consent[data.draw(st.sampled_from(["purpose", "required", "text"]))] = value
        elif target == "origin":
            raw["allowed_origins"] = [data.draw(URLISH)]
        elif target == "redirect":
            raw["success"] = {"redirect": data.draw(URLISH | json_values)}
    try:
        spec = parse_definition(raw)
    except DefinitionError as error:
        assert error.problems
        assert all(isinstance(p, str) and ": " in p for p in error.problems)
    else:
        assert isinstance(spec, FormSpec)
        assert parse_definition(spec.to_document()) == spec


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_plain_consent_text_is_refused(text):
    problems = problems_of(
        document(consents=[{"purpose": "processing", "required": True, "text": text}])
    )
    assert "consents[0].text.en: must be a non-empty text" in problems


def test_options_must_fit_the_lead_column():
    raw = document(fields=[{"name": "country", "type": "select", "options": ["DK", "Denmark"]}])
    assert "fields[0] (country).options[1]: at most 2 characters for country" in problems_of(raw)
