"""Lead exports: CSV and JSON Lines, filters, progress on stderr, formula injection neutralised."""

import csv
import io
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from capture.base.db import db
from capture.leads.cells import FORMULA_TRIGGERS, neutralise, restore
from capture.leads.export import SOURCE, columns, csv_chunks, export_chunks
from capture.leads.lead import Lead, lead_payload
from capture.leads.listing import LeadFilter, stream_rows

CORPUS = [
    "=1+1",
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\0=1",
    "|calc",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","x")',
    "-",
    "=",
]


def _row(**values):
    base = {column.key: None for column in Lead.__table__.c}
    return base | {"first_touch": {}, "last_touch": {}, "properties": {}} | values


def _cells(text):
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


@given(st.text())
def test_no_cell_starts_with_a_trigger(value):
    rows = [_row(public_id="lead_x", email="a@b.dk", first_name=value, properties={"k": value})]
    for cell in _cells("".join(csv_chunks(rows))):
        assert not cell.startswith(FORMULA_TRIGGERS), repr(cell)


def test_fixed_corpus_is_neutralised_and_kept_readable():
    for payload in CORPUS:
        # A TAB or CR is where a cell may begin in some spreadsheet: what follows it is too.
        expected = "'" + payload.replace("\t=", "\t'=").replace("\r=", "\r'=")
        assert neutralise(payload) == expected
        assert restore(expected) == payload
    assert neutralise("Ane") == "Ane"
    text = "".join(csv_chunks([_row(public_id="lead_x", company=p) for p in CORPUS]))
    companies = [row[columns().index("company")] for row in csv.reader(io.StringIO(text))][1:]
    assert companies == [neutralise(p) for p in CORPUS]


def test_cli_exports_csv_and_jsonl_with_filters(runner, make_form, submit):
    make_form(
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "company", "type": "text"},
        ]
    )
    submit("test-form", {"email": "a@firma.dk", "company": "=HYPERLINK(1)"})
    make_form(slug="demo", conversion="demo_request")
    submit("demo", {"email": "b@firma.dk"})

    result = runner.invoke(args=["leads", "export", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["email"] for r in rows] == ["a@firma.dk", "b@firma.dk"]
    assert rows[0]["company"] == "'=HYPERLINK(1)"
    assert "exported 2 leads" in result.stderr

    result = runner.invoke(args=["leads", "export", "--format", "jsonl", "--stage", "sql"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["email"], x["lifecycle_stage"]) for x in lines] == [("b@firma.dk", "sql")]
    assert lines[0]["company"] is None and "first_touch" in lines[0]

    result = runner.invoke(args=["leads", "export", "--since", "2999-01-01"])
    assert result.stdout.splitlines() == [",".join(f'"{name}"' for name in columns())]
    bad = runner.invoke(args=["leads", "export", "--since", "tomorrow"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.stderr
    # In range as written, out of range in UTC: a usage error, not an OverflowError.
    edge = runner.invoke(args=["leads", "export", "--since", "9999-12-31T23:59:59-14:00"])
    assert edge.exit_code == 2 and "ISO 8601" in edge.stderr


def test_export_streams_in_batches(app_context, app, make_form, submit):
    make_form()
    for i in range(7):
        submit("test-form", {"email": f"s{i}@firma.dk"})
    emails = [row["email"] for row in stream_rows(LeadFilter(), batch=3)]
    assert emails == [f"s{i}@firma.dk" for i in range(7)]


@given(
    st.dictionaries(st.sampled_from(columns()), st.text() | st.integers() | st.floats()),
    st.text(),
)
def test_any_value_in_any_column_is_safe_and_readable(values, text):
    """Whatever lands in whichever column (text, numbers, negative ones): no cell starts with a
    trigger, and taking the added quote off gives back exactly what was written."""
    row = _row(public_id="lead_x")
    row.update({SOURCE.get(key, key): value for key, value in values.items()})
    row["first_touch"] = {text: text}  # nested values go out as one JSON cell
    [header, cells] = list(csv.reader(io.StringIO("".join(csv_chunks([row])), newline="")))
    assert header == columns()
    for cell in cells:
        assert not cell.startswith(FORMULA_TRIGGERS), repr(cell)
    for name, cell in zip(header, cells, strict=True):
        if isinstance(raw := values.get(name), str) and name != "first_touch":
            assert restore(cell) == raw


def test_database_formatting_matches_the_python_rows(app_context, app, make_form, submit):
    """On PostgreSQL the database formats cells and lines; the file must be the one the
    row-at-a-time Python writer makes, awkward values included (on SQLite both are Python)."""
    make_form(fields=[{"name": "email", "type": "email", "required": True}])
    for i in range(3):
        submit("test-form", {"email": f"x{i}@firma.dk"})
    tricky = [
        {"company": "=HYPERLINK(1)", "first_name": 'a,b"c\nd', "score": -5, "fit_score": -5},
        {"engagement_score": 12.345, "last_name": "-", "job_title": "", "phone": "+4512"},
        {"created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "properties": {"k": "=1"}},
    ]
    leads = db.session.scalars(sa.select(Lead).order_by(Lead.id)).all()
    for lead, values in zip(leads, tricky, strict=True):
        for name, value in values.items():
            setattr(lead, name, value)
    db.session.commit()

    expected = "".join(csv_chunks(stream_rows(LeadFilter(), json_as_text=True)))
    assert "".join(export_chunks(LeadFilter(), "csv")) == expected
    cells = list(csv.DictReader(io.StringIO(expected)))
    assert cells[0]["company"] == "'=HYPERLINK(1)"
    assert (cells[0]["score"], cells[1]["engagement_score"]) == ("'-5", "12.35")
    assert cells[2]["created_at"] == "2026-01-02T03:04:05+00:00"

    reference = [lead_payload(row) for row in stream_rows(LeadFilter())]
    lines = [
        json.loads(line) for line in "".join(export_chunks(LeadFilter(), "jsonl")).split("\n")[:-1]
    ]
    assert lines == reference
