"""The OpenAPI document describes every /api/v1 route and is a valid OpenAPI 3.1 document."""

import re

from openapi_spec_validator import validate

from capture.web.errors import CODES


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_api_route_is_described(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        methods = rule.methods - {"HEAD", "OPTIONS"} or {"OPTIONS"}
        for method in methods:
            if method.lower() not in paths.get(_path(rule.rule), {}):
                missing.append((method, rule.rule))
    assert missing == []
    # And nothing described that does not exist.
    rules = {_path(r.rule) for r in app.url_map.iter_rules()}
    assert set(paths) <= rules


def test_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_authenticated_routes_declare_their_errors(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            public = operation.get("security") == []
            if not public:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            for status in operation["responses"]:
                if int(status) >= 400:
                    assert int(status) in CODES, status
