"""Forms as code: `leadgate forms import FILE` and `leadgate forms export SLUG`."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import FormDefinition, get_form

# The example of the contract, as a marketer would paste it.
CONTRACT_EXAMPLE = """\
slug: ebook-lead-scoring            # URL-safe, unique
name: "E-book: the lead scoring guide"
conversion: ebook_download          # a conversion kind, see domain.md; decides MQL or SQL
language: da                        # da | sv | en; labels fall back to en
magnet: lead-scoring-guide          # optional: the magnet this form gates
fields:                             # email is always present and required
  - {name: email, type: email, required: true}
  - {name: first_name, type: text, label: {da: Fornavn, sv: Förnamn, en: First name}}
  - {name: company_size, type: select, options: ["1-10", "11-50", "51-200", "201+"]}
  - {name: utm_campaign, type: hidden, source: query}
consents:
  - {purpose: processing, required: true, text: {da: "...", en: "..."}}
  - {purpose: marketing, required: false, text: {da: "...", en: "..."}}
double_opt_in: false                # true: nothing is delivered until the e-mail is confirmed
success: {message: {da: "Tak ...", en: "Thanks ..."}, redirect: null}
allowed_origins: ["https://www.partner.example"]   # sites that may embed and post it
partner: partner-example            # optional attribution of everything this form captures
"""


def write(tmp_path: Path, text: str, name: str = "form.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def forms_cli(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["forms", *args])


def all_forms() -> list[FormDefinition]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(FormDefinition)))


def test_import_creates_then_is_a_no_op_then_bumps_the_version(app_context, runner, tmp_path):
    path = write(tmp_path, CONTRACT_EXAMPLE)
    created = forms_cli(runner, "import", str(path))
    assert created.exit_code == 0, created.output
    assert created.stdout == "ebook-lead-scoring created (version 1)\n"
    assert created.stderr == ""
    [form] = all_forms()
    assert (form.version, form.conversion, form.magnet, form.partner) == (
        1,
        "ebook_download",
        "lead-scoring-guide",
        "partner-example",
    )
    stamp = (form.digest, form.updated_at)

    unchanged = forms_cli(runner, "import", str(path))
    assert unchanged.exit_code == 0
    assert unchanged.stdout == "ebook-lead-scoring unchanged (version 1)\n"
    [form] = all_forms()
    assert (form.version, form.digest, form.updated_at) == (1, *stamp)

    # Formatting and comments are not changes; content is.
    reformatted = yaml.safe_dump(yaml.safe_load(CONTRACT_EXAMPLE), sort_keys=True)
    assert (
        "unchanged (version 1)"
        in forms_cli(runner, "import", str(write(tmp_path, reformatted))).stdout
    )

    changed = CONTRACT_EXAMPLE.replace('name: "E-book: the lead', 'name: "E-book: the new lead')
    updated = forms_cli(runner, "import", str(write(tmp_path, changed)))
    assert updated.exit_code == 0
    assert updated.stdout == "ebook-lead-scoring updated (version 2)\n"
    [form] = all_forms()
    assert (form.version, form.name) == (2, "E-book: the new lead scoring guide")


def test_export_then_import_round_trips(app_context, runner, tmp_path, demo_forms):
    for slug in ("newsletter", "ebook-lead-scoring", "contact"):
        exported = forms_cli(runner, "export", slug)
        assert exported.exit_code == 0 and exported.stderr == ""
        document = yaml.safe_load(exported.stdout)
        assert document["slug"] == slug
        assert parse_definition(document) == get_form(slug).spec
        path = write(tmp_path, exported.stdout, f"{slug}.yaml")
        again = forms_cli(runner, "import", str(path))
        assert again.stdout == f"{slug} unchanged (version 1)\n", again.output
    assert {f.version for f in all_forms()} == {1}


def test_export_keeps_non_ascii_text_readable(runner, demo_forms):
    exported = forms_cli(runner, "export", "newsletter").stdout
    assert "Vi skal bruge dine kontaktoplysninger" in exported
    assert "Förnamn" in exported and "\\xF6" not in exported


def test_export_of_an_unknown_form_fails(runner):
    result = forms_cli(runner, "export", "no-such-form")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "no-such-form" in result.stderr


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            ("conversion: ebook_download", "conversion: podcast_listen"),
            "conversion: unknown conversion kind 'podcast_listen'",
        ),
        (
            ("redirect: null", "redirect: https://evil.example/phish"),
            "success.redirect: must be a path on this site",
        ),
        (
            ("redirect: null", 'redirect: "//evil.example"'),
            "success.redirect: must be a path on this site",
        ),
        (
            ("type: select", "type: dropdown"),
            "fields[2] (company_size).type: unknown type 'dropdown'",
        ),
        (("type: select", "type: [select]"), "fields[2] (company_size).type: unknown type"),
        (
            ("{name: first_name, type: text,", "{name: first_name, type: text, max_length: 301,"),
            "fields[1] (first_name).max_length: at most 300",
        ),
        (
            ('["https://www.partner.example"]', '["https://www.partner.example:99999"]'),
            "allowed_origins[0]: must be an origin",
        ),
        (
            ("purpose: marketing, required: false", "purpose: marketing, required: true"),
            "consents[1].required: marketing consent cannot be required",
        ),
        (("language: da ", "language: de "), "language: must be one of da, sv, en"),
    ],
)
def test_import_errors_name_the_file_the_path_and_the_problem(
    app_context, runner, tmp_path, change, problem
):
    path = write(tmp_path, CONTRACT_EXAMPLE.replace(*change))
    assert path.read_text() != CONTRACT_EXAMPLE
    result = forms_cli(runner, "import", str(path))
    assert result.exit_code != 0
    assert result.stdout == ""
    assert f"{path}: {problem}" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert all_forms() == []


def test_every_problem_of_a_file_is_reported_at_once(runner, tmp_path):
    path = write(
        tmp_path,
        """\
        slug: Bad Slug
        name: x
        conversion: podcast
        fields:
          - {name: email, type: email}
          - {name: size, type: select}
        consents: []
        """,
    )
    result = forms_cli(runner, "import", str(path))
    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "slug",
        "conversion",
        "fields[1] (size).options",
        "consents",
    ]
    assert all(line.startswith(f"{path}: ") for line in lines)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("slug: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "definition: must be a mapping"),
        ("", "definition: must be a mapping"),
    ],
)
def test_unreadable_files_are_errors_too(runner, tmp_path, content, message):
    path = write(tmp_path, content)
    result = forms_cli(runner, "import", str(path))
    assert result.exit_code != 0
    assert result.stderr.startswith(f"{path}: ") and message in result.stderr


def test_a_missing_file_and_bad_bytes(runner, tmp_path):
    missing = forms_cli(runner, "import", str(tmp_path / "nope.yaml"))
    assert missing.exit_code != 0 and f"{tmp_path / 'nope.yaml'}: cannot read" in missing.stderr
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"slug: \xff\xfe\n")
    result = forms_cli(runner, "import", str(binary))
    assert result.exit_code != 0 and f"{binary}: " in result.stderr
    assert "Traceback" not in result.output


def test_good_files_are_imported_even_when_another_fails(app_context, runner, tmp_path):
    good = write(tmp_path, CONTRACT_EXAMPLE, "good.yaml")
    bad = write(tmp_path, CONTRACT_EXAMPLE.replace("ebook_download", "nope"), "bad.yaml")
    result = forms_cli(runner, "import", str(bad), str(good))
    assert result.exit_code != 0
    assert result.stdout == "ebook-lead-scoring created (version 1)\n"
    assert result.stderr.startswith(f"{bad}: conversion:")
    assert [f.slug for f in all_forms()] == ["ebook-lead-scoring"]
