"""YAML aliases in form definitions are refused before anything walks the document.

A 624-byte definition of nested anchors and aliases ("billion laughs") held a worker for 30
seconds and ended in a 500. Every channel that reads a definition says why now, at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
import yaml
from helpers import csrf_token_in

from capture.base import safeyaml
from capture.base.db import db
from capture.forms.definition import MAX_VALUES, parse_definition
from capture.forms.spec import DefinitionError
from capture.forms.store import FormDefinition


def bomb(levels: int = 6, width: int = 9) -> str:
    """Nested aliases: `width ** levels` strings from a few hundred bytes."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


BODY = (
    "fields: &f\n"
    "  - {name: email, type: email, required: true}\n"
    "consents:\n"
    "  - {purpose: processing, required: true, text: {en: We process your data.}}\n"
    "success: {message: {en: Thanks}, redirect: null}\n"
    "description: *f\n"
)


def test_the_loader_refuses_an_alias_before_expanding_it():
    started = time.monotonic()
    try:
        safeyaml.load(bomb(levels=9))  # 9**9 strings if expanded
    except safeyaml.AliasRefused as refused:
        assert "aliases (*name) are not allowed" in safeyaml.describe(refused)
        assert "line 2, column" in safeyaml.describe(refused)
    else:
        raise AssertionError("an alias was accepted")
    assert time.monotonic() - started < 1
    # Merge keys are aliases too; plain YAML is read as before.
    for text in ("a: &x {b: 1}\nc: {<<: *x}\n", "a: &x 1\nb: *x\n"):
        try:
            safeyaml.load(text)
        except yaml.YAMLError:
            continue
        raise AssertionError(f"accepted {text!r}")
    assert safeyaml.load("a: [1, {b: c}]\n") == {"a": [1, {"b": "c"}]}


def test_a_document_of_shared_parts_is_refused_by_its_size():
    leaf = ["lol"] * 10
    for _ in range(8):  # 10**8 values once expanded, a few hundred objects in memory
        leaf = [leaf] * 10
    started = time.monotonic()
    try:
        parse_definition({"slug": "x", "name": "x", "fields": leaf})
    except DefinitionError as error:
        assert error.problems == [f"definition: too large (more than {MAX_VALUES} values)"]
    assert time.monotonic() - started < 1


def test_the_cli_says_so_on_stderr_and_exits_non_zero(runner, tmp_path: Path):
    path = tmp_path / "bomb.yaml"
    path.write_text("slug: x\nname: x\nconversion: newsletter_signup\n" + bomb(), "utf-8")
    result = runner.invoke(args=["forms", "import", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{path}: aliases (*name) are not allowed; write the values out (line 5, column 10)\n"
    )


def test_the_editor_shows_the_problem_and_saves_nothing(app_context, staff):
    marketer = staff("marketer")
    token = csrf_token_in(marketer.get("/admin/forms/new").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "slug": "bomb",
        "name": "Bomb",
        "conversion": "newsletter_signup",
        "language": "en",
        "status": "active",
        "allowed_origins": "",
    }
    for body in (BODY, "description: x\n" + bomb().replace("a0:", "fields:", 1)):
        started = time.monotonic()
        answer = marketer.post("/admin/forms/new", data=data | {"body": body})
        assert time.monotonic() - started < 2
        assert answer.status_code == 422
        assert "aliases (*name) are not allowed" in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FormDefinition)) == 0


def test_the_api_refuses_an_oversized_document_in_the_error_shape(client, api_token):
    document = {
        "name": "Big",
        "conversion": "newsletter_signup",
        "consents": [{"purpose": "processing", "required": True, "text": {"en": "We do."}}],
        "description": "x",
        "success": {"message": {"en": [[0] * 100] * 210}},  # 21,000 values in 43 kB
    }
    answer = client.put("/api/v1/forms/big/definition", json=document, headers=api_token())
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"] == {
        "definition": [f"too large (more than {MAX_VALUES} values)"]
    }
