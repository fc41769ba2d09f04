"""Hostile input at both submission endpoints: every answer is a contract error or a success.

Malformed, oversized, wrongly typed and hostile bodies (invalid UTF-8, deep nesting, 10,000
fields, megabyte strings, lone surrogates, NUL bytes, wrong JSON types at every level, odd
content types, form posts with many parts, bad Idempotency-Key and Origin headers) go to
POST /api/v1/forms/<slug>/submissions and POST /f/<slug>. Never a 5xx. NUL bytes and lone
surrogates are what PostgreSQL refuses, so the suite's PostgreSQL run matters most here.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.leads.lead import Lead
from capture.submissions.submission import Submission

PARTNER = "https://www.partner.example"
FUZZ_FORM = {
    "slug": "fuzz",
    "language": "da",
    "allowed_origins": [PARTNER],
    "fields": [
        {"name": "email", "type": "email", "required": True},
        {"name": "first_name", "type": "text"},
        {"name": "phone", "type": "tel"},
        {"name": "company_size", "type": "select", "options": ["1-10", "11-50"]},
        {"name": "authority", "type": "radio", "options": ["yes", "no"]},
        {"name": "newsletter", "type": "checkbox"},
        {"name": "seats", "type": "number"},
        {"name": "website", "type": "url"},
        {"name": "country", "type": "country"},
        {"name": "message", "type": "textarea"},
        {"name": "utm_term", "type": "hidden", "source": "query"},
        {"name": "favourite_colour", "type": "text", "max_length": 20},
    ],
}
VALID_FIELDS = {
    "email": "ane@firma.dk",
    "first_name": "Ane",
    "phone": "12 34 56 78",
    "company_size": "1-10",
    "authority": "yes",
    "newsletter": True,
    "seats": 12,
    "website": "firma.dk",
    "country": "dk",
    "message": "Hej\nmed to linjer",
    "favourite_colour": "blå",
}
NAMES = [f["name"] for f in FUZZ_FORM["fields"]] + ["homepage_url", "token", "is_admin"]
SECTIONS = ["fields", "consents", "context", "token"]
CONTEXT_KEYS = ["page_url", "referrer", "utm_source", "utm_medium", "utm_campaign"]

# Strings that have broken systems like this one before.
NASTY = [
    "",
    " ",
    "\x00",
    "ane\x00@firma.dk",
    "\ud800",
    "a\udfffb",
    "\ufeff",
    "\u202egnp.exe",
    "\r\n",
    "ane@firma.dk\r\nBcc: x@evil.example",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "NaN",
    "-Infinity",
    "1e999",
    "\uff19\uff19",  # full-width digits
    "Ane@Firma.DK",
    "javascript:alert(1)",
    "https://\x00.example",
    "http://[::1",
    "x" * 301,
    "x" * 5_001,
    "é" * 40_000,
]
texts = st.sampled_from(NASTY) | st.text(st.characters(exclude_categories=()), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(NAMES + SECTIONS) | texts, inner, max_size=4)
    ),
    max_leaves=16,
)
header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=255) | st.just("\t"), max_size=300
)


def encode_json(value: Any, ascii_only: bool) -> bytes:
    """JSON as a client would send it; lone surrogates become invalid UTF-8 when not escaped."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encode_form(pairs: list[tuple[str, str]]) -> bytes:
    return b"&".join(
        quote_from_bytes(str(k).encode("utf-8", "surrogatepass")).encode()
        + b"="
        + quote_from_bytes(str(v).encode("utf-8", "surrogatepass")).encode()
        for k, v in pairs
    )


# Every place a client can put a value: a whole section, or one key inside a section.
LOCATIONS: list[tuple[str, ...]] = [
    *[(section,) for section in [*SECTIONS, "extra"]],
    *[("fields", name) for name in NAMES],
    *[("consents", purpose) for purpose in ("processing", "marketing", "profiling")],
    *[("context", key) for key in CONTEXT_KEYS],
]


def good_body(marketing: Any = False) -> dict[str, Any]:
    return {
        "fields": dict(VALID_FIELDS),
        "consents": {"processing": True, "marketing": marketing},
        "context": {"page_url": "https://www.partner.example/guide", "utm_source": "x"},
        "token": "xTOKENx",
    }


def put(body: dict[str, Any], location: tuple[str, ...], value: Any) -> None:
    if len(location) == 1:
        body[location[0]] = value
    elif isinstance(body.get(location[0]), dict):
        body[location[0]][location[1]] = value


@st.composite
def shaped_bodies(draw: Any) -> dict[str, Any]:
    """A good submission with a few places given wrong types or hostile values."""
    body = good_body(draw(scalars))
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.integers(0, 4)) == 0:  # a hostile key rather than a hostile value
            section = draw(st.sampled_from(["fields", "consents", "context"]))
            put(body, (section, draw(st.sampled_from(NASTY) | texts)), "x")
        else:
            put(body, draw(st.sampled_from(LOCATIONS)), draw(st.sampled_from(NASTY) | json_values))
    return body


def many_fields(count: int) -> bytes:
    fields = {**VALID_FIELDS, **{f"f{i}": "x" for i in range(count)}}
    return json.dumps({"fields": fields, "token": "xTOKENx"}).encode()


# Built once: these are slow to make and always the same.
MANY = [many_fields(n) for n in (199, 201, 4_000, 10_000)]
MANY_PARTS = encode_form([(f"f{i}", "x") for i in range(10_000)])
HUGE = json.dumps({"fields": {"email": "a" * 1_000_000}}).encode()


def nested(depth: int) -> bytes:
    """An e-mail buried `depth` lists deep (written out: json.dumps would recurse too)."""
    email = b"[" * depth + b'"ane@firma.dk"' + b"]" * depth
    return b'{"fields": {"email": ' + email + b'}, "consents": {"processing": true}}'


JSON_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/merge-patch+json",
    "APPLICATION/JSON",
]
FORM_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
]
ODD_TYPES = [
    "",
    "text/plain",
    "application/xml",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "*/*",
    "application/json; charset=\u00ff",
    "json",
]


KINDS = ["shaped", "shaped", "shaped-form", "raw", "nested", "many", "huge", "anything"]


@st.composite
def requests_(draw: Any, kinds: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(kinds))
    content_type = draw(st.sampled_from(JSON_TYPES))
    if kind == "shaped":
        data: Any = draw(shaped_bodies())
        # Mostly escaped, so surrogates reach the app; raw, they are invalid UTF-8 (a 400).
        body = encode_json(data, draw(st.sampled_from([True, True, True, False])))
    elif kind == "shaped-form":
        data = draw(shaped_bodies())
        pairs = []
        for section in ("fields", "consents", "context"):
            if isinstance(data.get(section), dict):
                prefix = "consent_" if section == "consents" else ""
                pairs += [(f"{prefix}{k}", v) for k, v in data[section].items()]
        pairs += [("token", "xTOKENx")] * draw(st.integers(0, 2))
        pairs += [(draw(texts), draw(texts)) for _ in range(draw(st.integers(0, 3)))]
        # Repeated keys and many parts: repeat the encoded body, encoding is the slow part.
        body = b"&".join([encode_form(pairs)] * draw(st.sampled_from([1, 1, 1, 2, 150, 2_000])))
        content_type = draw(st.sampled_from(FORM_TYPES))
    elif kind == "raw":
        body = draw(
            st.binary(max_size=300)
            | st.binary(max_size=60).map(lambda b: b'{"fields": {"email": "' + b + b'"}}')
        )
    elif kind == "nested":
        depth = draw(st.sampled_from([10, 900, 1_100, 5_000, 30_000]))
        body = b"[" * depth + b"]" * depth if draw(st.booleans()) else nested(depth)
    elif kind == "many":
        body = draw(st.sampled_from(MANY))
        if draw(st.booleans()):
            body = MANY_PARTS
            content_type = draw(st.sampled_from([*FORM_TYPES, "multipart/form-data; boundary=x"]))
    elif kind == "huge":
        body = HUGE
    else:
        body = encode_json(draw(json_values), draw(st.booleans()))
    if draw(st.integers(0, 5)) == 0:
        content_type = draw(st.sampled_from(ODD_TYPES + FORM_TYPES + JSON_TYPES))
    headers = {"Content-Type": content_type}
    key = draw(st.sampled_from([None, None, None, None, "k-1", "k-2", "", " ", "x" * 256, "?"]))
    if key == "?":
        key = draw(header_text)
    if key is not None:
        headers["Idempotency-Key"] = key
    origin = draw(
        st.sampled_from([None] * 5 + [PARTNER, "https://evil.example", "null", "http://[::1"])
    )
    if origin is not None:
        headers["Origin"] = origin
    if draw(st.booleans()):
        headers["Accept"] = "application/json"
    query = draw(st.sampled_from(["", "?lang=sv", "?lang=xx", "?embed=1", "?utm_term=%00"]))
    return {"body": body, "headers": headers, "query": query}


@pytest.fixture
def fuzz_form(make_form):
    return make_form(**FUZZ_FORM)


def assert_contract_error(response: Any, codes: dict[int, str]) -> None:
    assert response.status_code in codes, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json", response.get_data()[:300]
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) <= {"code", "message", "fields"}
    assert body["error"]["code"] == codes[response.status_code]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


API_ERRORS = {
    400: "bad_request",
    403: "origin_not_allowed",
    409: "idempotency_conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
}
# 403: a post whose Origin is another site (the form is not allowed there).
PAGE_ERRORS = {400: "bad_request", 403: "origin_not_allowed", 413: "payload_too_large"}
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(app: Any, client: Any, path: str, kinds: list[str], check: Any) -> Counter:
    token = client.get("/api/v1/forms/fuzz").get_json()["token"]
    statuses: Counter = Counter()

    @SETTINGS
    @given(request=requests_(kinds))
    def one(request: dict[str, Any]) -> None:
        body = request["body"].replace(b"xTOKENx", token.encode())
        # A context of its own per request, as in production: nothing carries over.
        with app.app_context():
            response = client.post(path + request["query"], data=body, headers=request["headers"])
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.get_data()[:500]
        check(response, request)

    one()
    return statuses


def test_the_api_answers_hostile_input_with_contract_errors(
    app_context, app, client, fuzz_form, rows
):
    def check(response: Any, request: dict[str, Any]) -> None:
        if response.status_code == 201:
            answer = response.get_json()
            assert answer["submission"].startswith("sub_") and answer["lead"].startswith("lead_")
        else:
            assert_contract_error(response, API_ERRORS)

    statuses = fuzz(app, client, "/api/v1/forms/fuzz/submissions", KINDS, check)
    total, errors = sum(statuses.values()), sum(n for s, n in statuses.items() if s >= 500)
    print(
        f"\nPOST /api/v1/forms/<slug>/submissions: {total} inputs, {errors} 5xx, {dict(statuses)}"
    )
    assert errors == 0
    assert statuses[201] and statuses[400] and statuses[413]  # deep paths were reached
    assert all(s.fields.get("email") for s in rows(Submission) if s.status == "accepted")
    assert all("\x00" not in lead.email for lead in rows(Lead))


def test_the_html_post_answers_hostile_input_without_failing(app, client, fuzz_form, rows):
    def check(response: Any, request: dict[str, Any]) -> None:
        status = response.status_code
        if status in {200, 422}:
            assert response.mimetype == "text/html"
        elif status == 303:
            assert response.headers["Location"]
        elif request["headers"].get("Accept") == "application/json":
            assert_contract_error(response, PAGE_ERRORS)
        else:
            assert status in PAGE_ERRORS and response.mimetype == "text/html"

    # Browsers post forms: mostly form-encoded bodies here, the rest of the zoo as well.
    statuses = fuzz(app, client, "/f/fuzz", ["shaped-form"] * 4 + KINDS, check)
    total, errors = sum(statuses.values()), sum(n for s, n in statuses.items() if s >= 500)
    print(f"\nPOST /f/<slug>: {total} inputs, {errors} 5xx, {dict(statuses)}")
    assert errors == 0
    assert statuses[200] and statuses[413]


# For the sweep: what broke PostgreSQL or Python before, and every JSON type.
SWEEP_VALUES: list[Any] = [
    "\x00",
    "ane\x00@firma.dk",
    "\ud800",
    "a\udfffb",
    "\u202e",
    "x" * 5_001,
    None,
    True,
    1,
    2**64,
    1.5,
    float("nan"),
    [],
    {"a": 1},
]


def test_every_place_takes_every_hostile_value(app, client, fuzz_form):
    """Systematic where the fuzzing above is random: each value at each place, JSON and form."""
    token = client.get("/api/v1/forms/fuzz").get_json()["token"]
    api, page = Counter(), Counter()
    for location in LOCATIONS:
        for value in SWEEP_VALUES:
            body = good_body()
            put(body, location, value)
            data = json.dumps(body).replace("xTOKENx", token)
            with app.app_context():
                response = client.post(
                    "/api/v1/forms/fuzz/submissions", data=data, content_type="application/json"
                )
            api[response.status_code] += 1
            assert response.status_code < 500, (location, value, response.get_data()[:300])
            if response.status_code != 201:
                assert_contract_error(response, API_ERRORS)
            if not isinstance(value, str) or len(location) == 1:
                continue
            name = f"consent_{location[1]}" if location[0] == "consents" else location[1]
            pairs = {**VALID_FIELDS, "consent_processing": "y", "token": token, name: value}
            with app.app_context():
                response = client.post(
                    "/f/fuzz",
                    data=encode_form(list(pairs.items())),
                    content_type="application/x-www-form-urlencoded",
                )
            page[response.status_code] += 1
            # Bytes that are not UTF-8 (a lone surrogate, encoded as is) are a 400 error page.
            expected = {200, 422} if utf8(value) else {400}
            assert response.status_code in expected, (location, value, response.status_code)
    print(
        f"\nsweep: {sum(api.values())} JSON bodies, 0 5xx, {dict(api)}; "
        f"{sum(page.values())} form posts, 0 5xx, {dict(page)}"
    )
    assert api[201] and api[422] and api[400] and page[200] and page[422]
