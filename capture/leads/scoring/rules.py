"""Pure scoring rules: points for behaviour, fit on profile values, thresholds, BANT.

Rules are data (`ScoringRules`, read from a JSON or YAML document merged over `DEFAULTS`), so a
team changes them without code. No database here: everything takes plain values and returns
plain values, and `capture.leads.scoring.apply` applies the results to leads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from capture.base.lifecycle import CONVERSION_KINDS
from capture.leads.scoring.caps import RULE_KEYS, Cap, parse_window
from capture.leads.scoring.defaults import BANT_FIELDS, DEFAULTS
from capture.leads.scoring.pages import PageRules, parse_page_rules

FIT_FIELDS = frozenset({"job_title", "company_size", "industry", "country"})


MATCHES = frozenset({"contains", "equals"})


class Temperature(StrEnum):
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"


class ScoringRulesError(ValueError):
    """Every problem in a rules document, each as `path: problem`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class FitRule:
    name: str
    field: str
    match: str
    values: tuple[str, ...]
    points: int

    def applies(self, value: str | None) -> bool:
        if not value:
            return False
        text = value.strip().casefold()
        if self.match == "equals":
            return text in self.values
        return any(_contains_word(text, needle) for needle in self.values)


def _contains_word(text: str, needle: str) -> bool:
    """`it` must not match `security`: a needle matches at word boundaries only."""
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = text.find(needle, start + 1)
    return False


@dataclass(frozen=True)
class BantRule:
    require: tuple[str, ...]
    minimum: int
    negative: frozenset[str]

    def answered(self, profile: Mapping[str, Any]) -> list[str]:
        """The required BANT fields with a real answer (not empty, not a 'no' or 'unknown')."""
        found = []
        for name in self.require:
            value = profile.get(name)
            if (
                isinstance(value, str)
                and value.strip()
                and value.strip().casefold() not in (self.negative)
            ):
                found.append(name)
        return found

    def met(self, profile: Mapping[str, Any]) -> bool:
        return len(self.answered(profile)) >= self.minimum


@dataclass(frozen=True)
class ScoringRules:
    conversions: Mapping[str, int]
    activities: Mapping[str, int]
    fit: tuple[FitRule, ...]
    half_life_days: float
    mql_threshold: int
    sql_threshold: int
    warm_from: int
    hot_from: int
    bant: BantRule
    document: dict[str, Any] = field(default_factory=dict, compare=False)
    # By the rule's name in the score history: "conversion: newsletter_signup", "activity: ...".
    caps: Mapping[str, Cap] = field(default_factory=dict)
    pages: PageRules = field(default_factory=PageRules)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def _one_of(value: Any, allowed: Collection[str]) -> bool:
    """Membership that never raises: a list or a mapping given for a name is just not one."""
    return isinstance(value, str) and value in allowed


def _integer(value: Any, path: str, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{path}: must be a whole number")
        return 0
    return value


def _as_rules(section: Any) -> Any:
    """A points rule given as a bare number is `{points: n}`, so it merges over a default's
    cap instead of dropping it (`newsletter_signup: 15` changes the points, keeps the cap)."""
    if not isinstance(section, Mapping):
        return section
    return {
        name: rule if isinstance(rule, Mapping) else {"points": rule}
        for name, rule in section.items()
    }


def _points_rule(raw: Mapping[str, Any], path: str, problems: list[str]) -> tuple[int, Cap | None]:
    """One entry of `conversions` or `activities`: points, and a cap when `max` is set."""
    problems += [f"{path}.{key}: unknown setting" for key in sorted(set(raw) - RULE_KEYS, key=str)]
    points = _integer(raw.get("points"), f"{path}.points", problems)
    given, per = raw.get("max"), raw.get("per")
    if given is None:  # no cap (`max: null` lifts a default one)
        return points, None
    whole = isinstance(given, int) and not isinstance(given, bool)
    limit = _integer(given, f"{path}.max", problems)
    if whole and limit < 1:
        problems.append(f"{path}.max: must be 1 or more (null for no cap)")
    window = parse_window(per)
    if per is None:
        problems.append(f"{path}.per: required with max: a window like 30d, 1d, 12h or 15m")
    elif window is None:
        problems.append(
            f"{path}.per: a window like 30d, 1d, 12h, 15m or 2w (a whole number and m, h, d or w)"
        )
    if window is None or limit < 1:
        return points, None
    return points, Cap(limit, *window)


def parse_rules(override: Any = None, kinds: Collection[str] = CONVERSION_KINDS) -> ScoringRules:
    """Rules from a document merged over `DEFAULTS`; raises `ScoringRulesError`.

    `kinds` are the conversion kinds `conversions` may name (the built-ins, plus those added
    at run time when the rules in the database are checked).

    Mappings merge key by key (so `{"thresholds": {"sql": 80}}` changes one number); the `fit`
    list, when given, replaces the default list. A points rule is a number or a mapping of
    `points`, `max` and `per` (a cap: at most `max` scored per rolling `per` window, such as
    `30d`, `1d`, `12h`, `15m`); a bare number changes the points and keeps the default cap.
    """
    if override is None:
        override = {}
    if not isinstance(override, Mapping):
        raise ScoringRulesError(["(top): must be a mapping"])
    problems: list[str] = []
    unknown = set(override) - set(DEFAULTS)
    problems += [f"{key}: unknown setting" for key in sorted(unknown)]
    override = dict(override)
    for section in ("conversions", "activities"):
        if section in override:
            override[section] = _as_rules(override[section])
    doc = _merge(DEFAULTS, override)

    conversions: dict[str, int] = {}
    activities: dict[str, int] = {}
    caps: dict[str, Cap] = {}
    for section, points_by_name, label in (
        ("conversions", conversions, "conversion"),
        ("activities", activities, "activity"),
    ):
        if not isinstance(doc[section], Mapping):
            problems.append(f"{section}: must be a mapping")
            continue
        for name, raw in dict(doc[section]).items():
            if section == "conversions" and name not in kinds:
                problems.append(f"conversions.{name}: unknown conversion kind")
            points, cap = _points_rule(raw, f"{section}.{name}", problems)
            points_by_name[str(name)] = points
            if cap is not None:
                caps[f"{label}: {name}"] = cap

    pages = parse_page_rules(doc["page_rules"], activities, problems)
    fit: list[FitRule] = []
    if not isinstance(doc["fit"], list):
        problems.append("fit: must be a list")
    else:
        for index, raw in enumerate(doc["fit"]):
            path = f"fit[{index}]"
            if not isinstance(raw, Mapping):
                problems.append(f"{path}: must be a mapping")
                continue
            if not _one_of(raw.get("field"), FIT_FIELDS):
                problems.append(f"{path}.field: one of {', '.join(sorted(FIT_FIELDS))}")
            match = raw.get("match", "contains")
            if not _one_of(match, MATCHES):
                problems.append(f"{path}.match: contains or equals")
            values = raw.get("values")
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                problems.append(f"{path}.values: must be a list of strings")
                values = []
            fit.append(
                FitRule(
                    name=str(raw.get("name") or f"{raw.get('field')} rule {index + 1}"),
                    field=str(raw.get("field")),
                    match=str(match),
                    values=tuple(v.strip().casefold() for v in values),
                    points=_integer(raw.get("points"), f"{path}.points", problems),
                )
            )

    for section in ("decay", "thresholds", "temperature", "bant"):
        if not isinstance(doc[section], Mapping):
            problems.append(f"{section}: must be a mapping")
            doc[section] = DEFAULTS[section]
    half_life = doc["decay"].get("half_life_days")
    if isinstance(half_life, bool) or not isinstance(half_life, int | float) or half_life <= 0:
        problems.append("decay.half_life_days: must be a positive number")
        half_life = 1
    mql = _integer(doc["thresholds"].get("mql"), "thresholds.mql", problems)
    sql = _integer(doc["thresholds"].get("sql"), "thresholds.sql", problems)
    if mql > sql:
        problems.append("thresholds: mql must not be above sql")
    warm = _integer(doc["temperature"].get("warm"), "temperature.warm", problems)
    hot = _integer(doc["temperature"].get("hot"), "temperature.hot", problems)
    if warm > hot:
        problems.append("temperature: warm must not be above hot")

    bant = doc["bant"]
    require = bant.get("require")
    if not isinstance(require, list) or not all(_one_of(name, BANT_FIELDS) for name in require):
        problems.append(f"bant.require: a list drawn from {', '.join(BANT_FIELDS)}")
        require = list(BANT_FIELDS)
    minimum = _integer(bant.get("minimum", len(require)), "bant.minimum", problems)
    if not 1 <= minimum <= max(len(require), 1):
        problems.append("bant.minimum: between 1 and the number of required fields")
    negative = bant.get("negative", [])
    if not isinstance(negative, list) or not all(isinstance(v, str) for v in negative):
        problems.append("bant.negative: must be a list of strings")
        negative = []
    if problems:
        raise ScoringRulesError(problems)
    return ScoringRules(
        conversions=conversions,
        activities=activities,
        fit=tuple(fit),
        half_life_days=float(half_life),
        mql_threshold=mql,
        sql_threshold=sql,
        warm_from=warm,
        hot_from=hot,
        bant=BantRule(tuple(require), minimum, frozenset(v.strip().casefold() for v in negative)),
        document=doc,
        caps=caps,
        pages=pages,
    )
