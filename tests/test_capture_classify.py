"""Classification and stage rules as plain values: no Flask, no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture.base.lifecycle import (
    CONVERSION_KINDS,
    FUNNEL,
    Classification,
    Stage,
    UnknownConversionKind,
    automatic_move,
    classify,
    parse_overrides,
    rank,
    stage_for,
)

# The contract's table, written out again so a change to the code's table is noticed.
MQL_KINDS = {
    "newsletter_signup",
    "whitepaper_download",
    "ebook_download",
    "content_download",
    "webinar_registration",
    "webinar_attendance",
    "video_view",
}
SQL_KINDS = {"contact_request", "demo_request", "phone_call", "sales_email", "assessment_request"}

stages = st.sampled_from(list(Stage))
classifications = st.sampled_from(list(Classification))


def test_the_kinds_are_the_contracts():
    assert CONVERSION_KINDS == MQL_KINDS | SQL_KINDS


@pytest.mark.parametrize("kind", sorted(MQL_KINDS))
def test_marketing_conversions_are_mql(kind):
    assert classify(kind) is Classification.MQL


@pytest.mark.parametrize("kind", sorted(SQL_KINDS))
def test_sales_conversions_are_sql(kind):
    assert classify(kind) is Classification.SQL


@pytest.mark.parametrize("kind", ["", "newsletter", "NEWSLETTER_SIGNUP", "phone call", "sql"])
def test_an_unknown_kind_is_refused(kind):
    with pytest.raises(UnknownConversionKind):
        classify(kind)


def test_overrides_remap_kinds_and_leave_the_rest():
    overrides = parse_overrides(" video_view=SQL, phone_call = mql ,newsletter_signup=SQL,")
    assert overrides == {
        "video_view": Classification.SQL,
        "phone_call": Classification.MQL,
        "newsletter_signup": Classification.SQL,
    }
    assert classify("video_view", overrides) is Classification.SQL
    assert classify("phone_call", overrides) is Classification.MQL
    assert classify("newsletter_signup", overrides) is Classification.SQL
    assert classify("ebook_download", overrides) is Classification.MQL
    assert classify("demo_request", overrides) is Classification.SQL


@pytest.mark.parametrize("text", ["", "  ", ",", " , ,"])
def test_no_overrides(text):
    assert parse_overrides(text) == {}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("podcast_listen=MQL", UnknownConversionKind),
        ("video_view", UnknownConversionKind),
        ("=SQL", UnknownConversionKind),
        ("video_view=HOT", ValueError),
        ("video_view=", ValueError),
        ("video_view=SQL,webinar=SQL", UnknownConversionKind),
    ],
)
def test_bad_overrides_are_refused_with_the_item(text, error):
    with pytest.raises(error, match="override"):
        parse_overrides(text)


def test_classes_lead_to_their_stage():
    assert stage_for(Classification.MQL) is Stage.MQL
    assert stage_for(Classification.SQL) is Stage.SQL


def test_the_funnel_moves_forward():
    assert automatic_move(Stage.LEAD, Stage.MQL) is Stage.MQL
    assert automatic_move(Stage.MQL, Stage.SQL) is Stage.SQL
    assert automatic_move(Stage.LEAD, Stage.SQL) is Stage.SQL
    assert automatic_move(Stage.SQL, Stage.MQL) is None
    assert automatic_move(Stage.SQL, Stage.SQL) is None
    assert automatic_move(Stage.CUSTOMER, Stage.SQL) is None
    assert automatic_move(Stage.DISQUALIFIED, Stage.SQL) is None
    assert [rank(stage) for stage in FUNNEL] == list(range(len(FUNNEL)))


@given(current=stages, target=stages)
def test_automatic_moves_only_go_forward(current, target):
    moved = automatic_move(current, target)
    if moved is not None:
        assert moved is target
        assert current in FUNNEL and target in FUNNEL
        assert rank(moved) > rank(current)
    elif current is not Stage.DISQUALIFIED and target is not Stage.DISQUALIFIED:
        # Refused only because it would not be a step forward.
        assert rank(target) <= rank(current)


@given(start=stages, conversions=st.lists(classifications, max_size=20))
def test_a_run_of_conversions_never_moves_a_lead_back(start, conversions):
    stage = start
    for classification in conversions:
        moved = automatic_move(stage, stage_for(classification))
        if moved is not None:
            assert rank(moved) > rank(stage)
            stage = moved
    if start is Stage.DISQUALIFIED:
        assert stage is Stage.DISQUALIFIED
    else:
        assert rank(stage) >= rank(start)
        assert stage is not Stage.DISQUALIFIED
