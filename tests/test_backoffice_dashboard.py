"""The dashboard: funnel with rates and conversions by form, channel, partner and magnet."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from capture.base.db import db, utcnow
from capture.base.lifecycle import Stage
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, move_stage


class Cells(HTMLParser):
    """Every table row's cell texts, and the text inside each SVG."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.svg_text: list[str] = []
        self._cell: list[str] | None = None
        self._in_svg_text = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "text":
            self._in_svg_text = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "text":
            self._in_svg_text = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_svg_text:
            self.svg_text.append(data.strip())


@pytest.fixture
def traffic(app, make_form, submit):
    make_form(slug="guide", name="Guide", magnet="seo-guide", conversion="ebook_download")
    make_form(slug="demo", name="Demo", conversion="demo_request")
    for n in range(4):
        submit(
            "guide",
            {"email": f"reader{n}@firma.dk"},
            context={"utm_source": "linkedin", "utm_medium": "social"},
        )
    submit("demo", {"email": "reader0@firma.dk"}, headers={})
    submit("demo", {"email": "buyer@firma.dk"})
    buyer = db.session.scalar(sa.select(Lead).where(Lead.email == "buyer@firma.dk"))
    move_stage(buyer, Stage.CUSTOMER, reason="signed", actor="user:test")
    # A conversion long ago, outside every period.
    old = db.session.scalar(sa.select(ConversionEvent).order_by(ConversionEvent.id))
    old.occurred_at = utcnow() - timedelta(days=200)
    db.session.commit()


def test_funnel_and_rates(app_context, staff, traffic):
    html = staff("sales").get("/admin/?days=30").get_data(as_text=True)
    cells = Cells()
    cells.feed(html)
    funnel = {
        row[0]: row[1:]
        for row in cells.rows
        if row and row[0] in {"Lead", "MQL", "SQL", "Customer"} and len(row) == 3
    }
    # 5 leads; all reached MQL at least; reader0 and buyer reached SQL; buyer is a customer.
    assert funnel == {
        "Lead": ["5", "-"],
        "MQL": ["5", "100.0 %"],
        "SQL": ["2", "40.0 %"],
        "Customer": ["1", "50.0 %"],
    }
    # The SVG carries labels and values as text, not only as colour.
    assert "Customer" in cells.svg_text and "5" in cells.svg_text


def test_conversions_by_dimension_for_the_period(app_context, staff, traffic):
    cells = Cells()
    cells.feed(staff("marketer").get("/admin/?days=7").get_data(as_text=True))
    pairs = {tuple(row) for row in cells.rows if len(row) == 2}
    assert ("Guide", "3") in pairs  # the fourth is 200 days old
    assert ("Demo", "2") in pairs
    assert ("linkedin / social", "3") in pairs
    assert ("(direct) / (none)", "2") in pairs
    assert ("seo-guide", "3") in pairs
    assert ("SQL", "2") in pairs and ("MQL", "3") in pairs
    today = utcnow().date().isoformat()
    assert [today, "2", "3"] in cells.rows  # per day and form: Demo, Guide
    everything = Cells()
    everything.feed(staff("marketer").get("/admin/?days=365").get_data(as_text=True))
    # An unknown period falls back to 30 days.
    assert ("Guide", "3") in {tuple(row) for row in everything.rows if len(row) == 2}
