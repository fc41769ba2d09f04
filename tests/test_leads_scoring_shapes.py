"""Rules documents and kinds of any shape (as the API and the back office may receive them) are
refused with `path: problem` sentences, never with another exception."""

from hypothesis import given, settings
from hypothesis import strategies as st

from capture.leads.scoring import ScoringRulesError, parse_rules, read_kind

KEYS = [
    "points", "max", "per", "field", "match", "values", "require", "minimum", "negative",
    "half_life_days", "mql", "sql", "warm", "hot", "kind", "classification", "label", "en",
]  # fmt: skip
SECTIONS = ["conversions", "activities", "fit", "decay", "thresholds", "temperature", "bant"]
leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
value = st.recursive(
    leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(SECTIONS), value, max_size=4))
def test_any_rules_document_parses_or_names_its_problems(document):
    try:
        parse_rules(document)
    except ScoringRulesError as error:
        assert error.problems and all(": " in problem for problem in error.problems)


@settings(max_examples=300, deadline=None)
@given(value)
def test_any_kind_is_read_or_named_wrong(raw):
    _kind, _spec, _rule, problems = read_kind(raw)
    assert all(isinstance(problem, str) and ": " in problem for problem in problems)
