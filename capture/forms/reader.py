"""Reading the parts of a definition document (fields, options, consents, texts), collecting
every problem by its path instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeGuard

from capture.forms.spec import (
    CONSENT_PURPOSES,
    FIELD_TYPES,
    LEAD_FIELD_LIMITS,
    NAME_RE,
    TRACKING_TEXT,
    ConsentSpec,
    FieldSpec,
    Option,
    Texts,
)
from capture.web.i18n import LANGUAGES


def is_one_of(value: Any, choices: Collection[str]) -> TypeGuard[str]:
    """A membership test that YAML lists and mappings (unhashable) cannot crash."""
    return isinstance(value, str) and value in choices


class DefinitionReader:
    """Collects problems while reading, so one import reports all of them at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def texts(self, value: Any, path: str, required: bool = False) -> Texts:
        if value is None:
            if required:
                self.problem(path, "is required")
            return {}
        if isinstance(value, str):
            value = {"en": value}  # a plain text is English, checked like any other
        if not isinstance(value, dict):
            self.problem(path, "must be a text or a mapping of language to text")
            return {}
        texts: Texts = {}
        for lang, text in value.items():
            if lang not in LANGUAGES:
                self.problem(f"{path}.{lang}", f"unknown language (use {', '.join(LANGUAGES)})")
            elif not isinstance(text, str) or not text.strip():
                self.problem(f"{path}.{lang}", "must be a non-empty text")
            else:
                texts[lang] = text.strip()
        if required and not texts:
            self.problem(path, "needs at least one text")
        return texts

    def boolean(self, value: Any, path: str, default: bool = False) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(path, "must be true or false")
            return default
        return value

    def field(self, raw: Any, path: str) -> FieldSpec | None:
        if not isinstance(raw, dict):
            self.problem(path, "must be a mapping with name and type")
            return None
        unknown = set(raw) - {
            "name",
            "type",
            "required",
            "label",
            "options",
            "max_length",
            "source",
            "placeholder",
            "help",
        }
        for key in sorted(unknown):
            self.problem(f"{path}.{key}", "unknown key")
        name = raw.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            self.problem(f"{path}.name", "must be lower-case letters, digits and _ (a-z first)")
            return None
        path = f"{path} ({name})"
        kind = raw.get("type", "text")
        if not is_one_of(kind, FIELD_TYPES):
            self.problem(
                f"{path}.type", f"unknown type {kind!r} (use {', '.join(sorted(FIELD_TYPES))})"
            )
            return None
        if name == "email" and kind != "email":
            self.problem(f"{path}.type", "the email field must have type email")
        options: list[Option] = []
        raw_options = raw.get("options")
        if kind in {"select", "radio"}:
            if not isinstance(raw_options, list) or not raw_options:
                self.problem(f"{path}.options", f"a {kind} field needs a list of options")
            else:
                for i, option in enumerate(raw_options):
                    parsed = self.option(option, f"{path}.options[{i}]")
                    if parsed:
                        options.append(parsed)
                values = [o.value for o in options]
                if len(set(values)) != len(values):
                    self.problem(f"{path}.options", "values must be unique")
        elif raw_options is not None:
            self.problem(f"{path}.options", f"a {kind} field takes no options")
        max_length = raw.get("max_length")
        if max_length is not None and (
            not isinstance(max_length, int)
            or isinstance(max_length, bool)
            or not 1 <= max_length <= 20000
        ):
            self.problem(f"{path}.max_length", "must be a whole number from 1 to 20000")
            max_length = None
        capacity = LEAD_FIELD_LIMITS.get(name)
        if capacity and max_length is not None and max_length > capacity:
            self.problem(f"{path}.max_length", f"at most {capacity} for {name} (what a lead keeps)")
        for i, option in enumerate(options):
            if capacity and len(option.value) > capacity:
                self.problem(f"{path}.options[{i}]", f"at most {capacity} characters for {name}")
        source = raw.get("source")
        if source is not None and (kind != "hidden" or source != "query"):
            self.problem(f"{path}.source", "only hidden fields take a source, and it must be query")
            source = None
        return FieldSpec(
            name=name,
            type=kind,
            required=True
            if name == "email"
            else self.boolean(raw.get("required"), f"{path}.required"),
            label=self.texts(raw.get("label"), f"{path}.label"),
            options=tuple(options),
            max_length=max_length,
            source=source,
            placeholder=self.texts(raw.get("placeholder"), f"{path}.placeholder"),
            help=self.texts(raw.get("help"), f"{path}.help"),
        )

    def option(self, raw: Any, path: str) -> Option | None:
        if isinstance(raw, str | int | float) and not isinstance(raw, bool):
            return Option(value=str(raw), label={})
        if isinstance(raw, dict) and isinstance(raw.get("value"), str | int):
            return Option(
                value=str(raw["value"]), label=self.texts(raw.get("label"), f"{path}.label")
            )
        self.problem(path, "must be a value or {value, label}")
        return None

    def consent(self, raw: Any, path: str) -> ConsentSpec | None:
        if not isinstance(raw, dict):
            self.problem(path, "must be a mapping with purpose, required and text")
            return None
        purpose = raw.get("purpose")
        if not is_one_of(purpose, CONSENT_PURPOSES):
            self.problem(f"{path}.purpose", f"must be one of {', '.join(sorted(CONSENT_PURPOSES))}")
            return None
        required = self.boolean(raw.get("required"), f"{path}.required")
        if purpose in {"marketing", "tracking"} and required:
            # EU rules: marketing consent must be freely given, so it can never be a condition.
            self.problem(f"{path}.required", f"{purpose} consent cannot be required")
        tracking = purpose == "tracking" and raw.get("text") is None
        return ConsentSpec(
            purpose=purpose,
            required=required,
            # The tracking consent may use the standard text (docs/tracking.md).
            text=dict(TRACKING_TEXT)
            if tracking
            else self.texts(raw.get("text"), f"{path}.text", required=True),
        )
