"""Scoring rules: defaults, configuration and its errors, fit, BANT, decay, bands, thresholds.

All pure but the last two, which read the setting the way the app does.
"""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture.leads.scoring import (
    DEFAULTS,
    ScoringRulesError,
    Temperature,
    conversion_points,
    decayed,
    fit_points,
    load_rules,
    parse_rules,
    round_half_away,
    temperature,
    threshold_stage,
    total,
)
from wsgi import create_app

RULES = parse_rules()


def test_defaults_follow_the_sources_example():
    assert RULES.activities["page_view"] == 5
    assert RULES.activities["pricing_page_view"] == 15
    assert RULES.activities["contact_page_view"] == 15
    assert min(RULES.conversions.values()) > RULES.activities["page_view"]
    assert RULES.mql_threshold < RULES.sql_threshold


def test_override_merges_one_number_and_keeps_the_rest():
    rules = parse_rules({"thresholds": {"sql": 80}, "conversions": {"video_view": 3}})
    assert rules.sql_threshold == 80
    assert rules.mql_threshold == DEFAULTS["thresholds"]["mql"]
    assert rules.conversions["video_view"] == 3
    assert rules.conversions["demo_request"] == DEFAULTS["conversions"]["demo_request"]["points"]


def test_bad_rules_list_every_problem():
    with pytest.raises(ScoringRulesError) as error:
        parse_rules(
            {
                "conversions": {"fax_received": 5},
                "thresholds": {"mql": 90, "sql": 10},
                "decay": {"half_life_days": 0},
                "fit": [{"field": "shoe_size", "values": ["44"], "points": "many"}],
                "colour": "blue",
            }
        )
    text = str(error.value)
    for expected in (
        "conversions.fax_received",
        "thresholds",
        "decay.half_life_days",
        "fit[0].field",
        "fit[0].points",
        "colour",
    ):
        assert expected in text


def test_video_points_scale_with_the_share_watched():
    full = conversion_points(RULES, "video_view")
    assert conversion_points(RULES, "video_view", 50) == round_half_away(full / 2)
    assert conversion_points(RULES, "video_view", 0) == 0
    assert conversion_points(RULES, "video_view", 250) == full


def test_fit_matches_words_not_fragments():
    profile = {"job_title": "Head of Security", "company_size": "201+", "country": "DK"}
    names = dict(fit_points(RULES, profile))
    assert names == {"senior title": 15, "target company size": 10, "nordic country": 5}
    # "it" (target industry) must not match inside "security" or "facilities".
    assert fit_points(RULES, {"industry": "Facilities"}) == []
    assert dict(fit_points(RULES, {"industry": "IT consulting"})) == {"target industry": 5}


def test_bant_needs_real_answers():
    bant = RULES.bant
    complete = {"budget": "50k", "authority": "I decide", "need": "CRM", "timeline": "Q1"}
    assert bant.met(complete)
    assert not bant.met(complete | {"budget": "Ved ikke"})
    assert not bant.met(complete | {"timeline": "  "})
    relaxed = parse_rules({"bant": {"require": ["budget", "need"], "minimum": 2}}).bant
    assert relaxed.met({"budget": "yes, 10k", "need": "urgent"})


@given(
    st.floats(min_value=-1000, max_value=1000, allow_nan=False),
    st.floats(min_value=0, max_value=3650, allow_nan=False),
    st.floats(min_value=1, max_value=365, allow_nan=False),
)
def test_decay_shrinks_towards_zero_and_halves_per_half_life(engagement, days, half_life):
    left = decayed(engagement, days, half_life)
    assert abs(left) <= abs(engagement) + 1e-9
    assert math.copysign(1, left) == math.copysign(1, engagement) or left == 0
    assert math.isclose(decayed(engagement, half_life, half_life), engagement / 2, abs_tol=1e-9)


@given(st.integers(min_value=-500, max_value=500))
def test_bands_and_thresholds_are_monotonic(score):
    order = [Temperature.COLD, Temperature.WARM, Temperature.HOT]
    assert order.index(temperature(RULES, score)) <= order.index(temperature(RULES, score + 1))
    stages = [None, "mql", "sql"]
    assert stages.index(threshold_stage(RULES, score)) <= stages.index(
        threshold_stage(RULES, score + 1)
    )


def test_total_rounds_halves_away_from_zero_like_sql():
    assert total(2.5, 0) == 3
    assert total(-2.5, 1) == -2
    assert total(0.49, 10) == 10


def test_rules_from_a_yaml_file_or_inline_json(tmp_path):
    path = tmp_path / "scoring.yaml"
    path.write_text("thresholds: {mql: 10, sql: 20}\nactivities: {pricing_page_view: 25}\n")
    from_file = load_rules(str(path))
    assert (from_file.mql_threshold, from_file.activities["pricing_page_view"]) == (10, 25)
    assert load_rules('{"decay": {"half_life_days": 7}}').half_life_days == 7
    assert load_rules("") == RULES


def test_bad_rules_stop_the_app_at_start(app_config):
    with pytest.raises(ScoringRulesError, match=r"thresholds\.sql"):
        create_app(app_config | {"SCORING_RULES": '{"thresholds": {"sql": "lots"}}'})
