"""Exports that stay safe in every spreadsheet, an .xlsx of text cells, and exports that never
look complete when they are not.

- Only the first character of a CSV cell was neutralised, yet Excel in Denmark and Sweden
  splits on `;`, so a company `x;=cmd|' /C calc'!A0` became a live formula there.
- The back-office export with a NUL in `q` answered 200, sent the header row and then cut the
  connection: it looked like an empty export.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.base.db import db
from capture.leads.cells import FORMULA_TRIGGERS, neutralise, restore
from capture.leads.export import (
    FAILED,
    columns,
    csv_chunks,
    export_chunks,
    guarded,
    neutralise_records,
)
from capture.leads.lead import Lead
from capture.leads.listing import LeadFilter, stream_rows

SEPARATORS = (",", ";", "\t")
ATTACK = "x;=cmd|' /C calc'!A0"
TRICKY = [
    ATTACK,
    "Firma,=1+1",
    "a\t@SUM(A1)",
    'q;"=HYPERLINK(""http://evil.example"")"',
    "line\r\n-2+3",
    "  ;  +1",
    "';'=x",
    "=;=",
    "\t\t=x",
    "plain, text; nothing",
]


def _row(**values: Any) -> dict[str, Any]:
    base = {column.key: None for column in Lead.__table__.c}
    return base | {"first_touch": "{}", "last_touch": "{}", "properties": "{}"} | values


def naive_cells(text: str, separator: str) -> Iterator[str]:
    """Cells as a reader that ignores quotes would cut them: at every line break and separator."""
    for line in re.split(r"\r\n|\r|\n", text):
        yield from line.split(separator)


def starts_a_formula(cell: str) -> bool:
    return cell.lstrip(' "').startswith(FORMULA_TRIGGERS)


def assert_safe_everywhere(text: str) -> None:
    for separator in SEPARATORS:
        for cell in naive_cells(text, separator):
            assert not starts_a_formula(cell), (separator, cell)
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            for cell in row:
                assert not starts_a_formula(cell), (separator, cell)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list(" ,;\t\r\n\"'=+-@|\0abc")) | st.characters()))
def test_no_cell_starts_a_formula_whichever_separator_a_reader_splits_on(value):
    rows = [_row(public_id="lead_x", email="a@b.dk", company=value, first_name=value)]
    text = "".join(csv_chunks(rows))
    assert_safe_everywhere(text)
    # Read with the right separator, the value comes back exactly, quotes taken off.
    [_header, cells] = list(csv.reader(io.StringIO(text, newline="")))
    assert restore(cells[columns().index("company")]) == value


def test_every_cell_is_quoted_and_the_danish_attack_is_text():
    text = "".join(csv_chunks([_row(public_id="lead_x", company=ATTACK)]))
    header, line = text.split("\r\n")[:2]
    assert header.startswith('"id","email",')
    assert all(cell.startswith('"') and cell.endswith('"') for cell in line.split('","'[1:2]))
    assert f'"{neutralise(ATTACK)}"' in line
    assert neutralise(ATTACK) == "x;'=cmd|' /C calc'!A0"
    assert_safe_everywhere(text)


def _record(cells: list[str]) -> bytes:
    """One CSV record as COPY writes it with FORCE_QUOTE (and csv.writer with QUOTE_ALL)."""
    line = io.StringIO()
    csv.writer(line, lineterminator="", quoting=csv.QUOTE_ALL).writerow(cells)
    return line.getvalue().encode()


awkward = st.text(alphabet=st.sampled_from(list(" \"',;\t\r\n=+-@|ax")), max_size=8)


@given(st.lists(st.lists(awkward | st.sampled_from(TRICKY), min_size=1, max_size=4), max_size=6))
def test_records_are_neutralised_where_a_cell_would_be(rows):
    """The database writes raw cells; the records Python rewrites are exactly those where a
    cell changes, to what csv_chunks writes (quotes, separators and line breaks anywhere)."""
    records = [_record(cells) for cells in rows]
    assert neutralise_records(list(records)) == [
        _record([neutralise(cell) for cell in cells]) for cells in rows
    ]


def test_the_database_and_python_write_the_same_file(app_context, app, make_form, submit):
    """On PostgreSQL the database writes the cells and Python neutralises the records that
    need it (`neutralise_records`); the file must be the one Python writes row by row."""
    make_form(fields=[{"name": "email", "type": "email", "required": True}])
    for i in range(len(TRICKY)):
        submit("test-form", {"email": f"t{i}@firma.dk"})
    leads = db.session.scalars(sa.select(Lead).order_by(Lead.id)).all()
    for lead, value in zip(leads, TRICKY, strict=True):
        lead.company, lead.first_name, lead.properties = value, value[::-1], {"k": [value, value]}
    db.session.commit()
    expected = "".join(csv_chunks(stream_rows(LeadFilter(), json_as_text=True)))
    assert "".join(export_chunks(LeadFilter(), "csv")) == expected
    assert_safe_everywhere(expected)


def sheet_cells(workbook: bytes) -> list[list[str]]:
    """The cells of the first sheet, checking each is a text cell and none a formula."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
        shared = (
            archive.read("xl/sharedStrings.xml").decode()
            if ("xl/sharedStrings.xml" in archive.namelist())
            else ""
        )
    assert "<f>" not in xml and "<f " not in xml
    strings = [re.sub(r"<[^>]+>", "", s) for s in re.findall(r"<si>(.*?)</si>", shared, re.DOTALL)]
    rows = []
    for row in re.findall(r"<row [^>]*>(.*?)</row>", xml, re.DOTALL):
        cells: dict[int, str] = {}
        for attributes, body in re.findall(r"<c ([^>]*)>(.*?)</c>", row, re.DOTALL):
            kind = re.search(r'\bt="(\w+)"', attributes)
            assert kind and kind.group(1) in {"inlineStr", "s"}, attributes
            letters = re.search(r'\br="([A-Z]+)\d+"', attributes).group(1)
            index = 0
            for letter in letters:
                index = index * 26 + ord(letter) - 64
            if kind.group(1) == "s":
                text = strings[int(re.search(r"<v>(\d+)</v>", body).group(1))]
            else:
                text = re.sub(r"<[^>]+>", "", body)
            cells[index - 1] = unescape(text)
        rows.append([cells.get(i, "") for i in range(max(cells) + 1)])
    return rows


def unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


@pytest.fixture
def tricky_leads(make_form, submit):
    make_form(
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "company", "type": "text"},
        ]
    )
    submit("test-form", {"email": "a@firma.dk", "company": ATTACK})
    submit("test-form", {"email": "b@firma.dk", "company": "=1+1"})
    submit("test-form", {"email": "c@firma.dk", "company": "0042"})


def test_the_back_office_offers_an_xlsx_of_text_cells(staff, tricky_leads):
    marketer = staff("marketer")
    assert "leads.xlsx" in marketer.get("/admin/leads/").get_data(as_text=True)
    answer = marketer.get("/admin/exports/leads.xlsx?q=firma")
    assert answer.status_code == 200
    assert answer.mimetype == ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert answer.headers["Content-Disposition"].endswith('.xlsx"')
    rows = sheet_cells(answer.get_data())
    assert rows[0][:2] == ["id", "email"]
    company = columns().index("company")
    assert [r[company] for r in rows[1:]] == [ATTACK, "=1+1", "0042"]


def test_the_cli_writes_xlsx(runner, tricky_leads):
    result = runner.invoke(args=["leads", "export", "--format", "xlsx"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(b"PK")
    rows = sheet_cells(result.stdout_bytes)
    assert len(rows) == 4 and "exported 3 leads" in result.stderr


def test_a_nul_in_the_filter_is_a_400_before_anything_is_sent(staff, tricky_leads):
    marketer = staff("marketer")
    for fmt in ("csv", "jsonl", "xlsx"):
        answer = marketer.get(f"/admin/exports/leads.{fmt}?q=fir%00ma")
        assert answer.status_code == 400, fmt
        assert answer.mimetype == "text/html"
        assert "Content-Disposition" not in answer.headers


def failing(after: int) -> Iterator[str]:
    yield "header\r\n"
    for i in range(after):
        yield f"row {i}\r\n"
    raise RuntimeError("the database went away")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_stream_that_fails_ends_with_a_failure_line_and_the_error(fmt):
    seen: list[str] = []
    with pytest.raises(RuntimeError):
        for chunk in guarded(failing(2), fmt):
            seen.append(chunk)
    assert seen == ["header\r\n", "row 0\r\n", "row 1\r\n", FAILED[fmt]]
    assert list(guarded(iter(["a", "b"]), fmt)) == ["a", "b"]
    if fmt == "jsonl":
        assert json.loads(FAILED[fmt])["error"]["code"] == "export_failed"
    else:
        [[marker]] = list(csv.reader(io.StringIO(FAILED[fmt])))
        assert marker.startswith("# EXPORT FAILED")


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL"
)
def test_an_export_cut_off_mid_stream_does_not_look_complete(app_context, app, staff):
    """The export's database connection is killed after the first batch: the answer ends with
    the failure line and then breaks off (the server sends no final chunk). COPY streams ahead
    of the reader, so the export is larger (about 30 MB) than loopback's socket buffers hold."""
    message = "x" * 3000
    rows = [
        {"public_id": f"lead_{i:06d}", "email": f"p{i}@firma.dk", "message": message}
        for i in range(10_000)
    ]
    db.session.execute(sa.insert(Lead), rows)
    db.session.commit()
    marketer = staff("marketer")
    answer = marketer.get("/admin/exports/leads.jsonl", buffered=False)
    assert answer.status_code == 200
    chunks = iter(answer.response)
    first = next(chunks)
    assert first.count(b"\n") == 1000
    url = os.environ["TEST_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as killer:
        killed = killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND query ILIKE 'COPY%%'"
        ).fetchall()
    assert killed
    rest: list[bytes] = []
    with pytest.raises(sa.exc.DBAPIError):
        for chunk in chunks:
            rest.append(chunk)
    assert rest and rest[-1] == FAILED["jsonl"].encode()
    answer.close()
