"""Form definitions as plain data: the spec dataclasses, their vocabulary, the canonical form.

A definition arrives as YAML (forms as code), from the back office, or from the database; all of
them pass through `capture.forms.definition.parse_definition`, which either returns a `FormSpec`
or raises `DefinitionError` listing every problem by its path (`fields[2].type: ...`). Origins
are read by `capture.forms.origins`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

FIELD_TYPES = frozenset(
    {
        "text",
        "email",
        "tel",
        "textarea",
        "select",
        "radio",
        "checkbox",
        "number",
        "url",
        "country",
        "hidden",
    }
)
# Names that map onto lead columns, with how many characters each column holds (None: any);
# anything else goes to the lead's custom properties. A form may not promise more than the
# column keeps: PostgreSQL refuses the row, SQLite would keep it and a later export would not.
LEAD_FIELD_LIMITS: dict[str, int | None] = {
    "email": 320,
    "first_name": 300,
    "last_name": 300,
    "phone": 40,
    "company": 300,
    "job_title": 300,
    "company_size": 300,
    "industry": 300,
    "country": 2,
    "website": 2048,
    "message": None,
    "budget": 300,
    "authority": 300,
    "need": 300,
    "timeline": 300,
}
LEAD_FIELDS = frozenset(LEAD_FIELD_LIMITS)
CONSENT_PURPOSES = frozenset({"processing", "marketing", "profiling", "third_party", "tracking"})
# The tracking consent (page views on the customer's own site, docs/tracking.md) has a standard
# text, used when a form lists the purpose without one; it never is a condition of the form.
TRACKING_TEXT: dict[str, str] = {
    "en": "Yes, you may remember me on this website and record which pages I visit, so you can "
    "follow up on what interests me. I can withdraw this at any time.",
    "da": "Ja, I må genkende mig på dette website og registrere, hvilke sider jeg besøger, så I "
    "kan følge op på det, der interesserer mig. Jeg kan til enhver tid trække samtykket tilbage.",
    "sv": "Ja, ni får känna igen mig på den här webbplatsen och registrera vilka sidor jag "
    "besöker, så att ni kan följa upp det som intresserar mig. Jag kan när som helst återkalla "
    "samtycket.",
}
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_MAX_LENGTH = {"textarea": 5000, "url": 2048}


class DefinitionError(ValueError):
    """Every problem found in a definition, each as `path: problem`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


Texts = dict[str, str]  # language -> text


@dataclass(frozen=True)
class Option:
    value: str
    label: Texts


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    label: Texts = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    source: str | None = None  # hidden fields: "query" fills them from the page's query string
    placeholder: Texts = field(default_factory=dict)
    help: Texts = field(default_factory=dict)

    @property
    def limit(self) -> int:
        limit = self.max_length or DEFAULT_MAX_LENGTH.get(self.type, 300)
        capacity = LEAD_FIELD_LIMITS.get(self.name)
        return min(limit, capacity) if capacity else limit


@dataclass(frozen=True)
class ConsentSpec:
    purpose: str
    required: bool
    text: Texts


@dataclass(frozen=True)
class FormSpec:
    slug: str
    name: str
    conversion: str
    language: str = "en"
    magnet: str | None = None
    # Also e-mail the download link (through the outbox), besides showing it after submitting.
    email_magnet: bool = False
    fields: tuple[FieldSpec, ...] = ()
    consents: tuple[ConsentSpec, ...] = ()
    double_opt_in: bool = False
    success_message: Texts = field(default_factory=dict)
    success_redirect: str | None = None
    # The thank-you page's next step: a link (a path here or an http(s) URL) and its text.
    success_next_url: str | None = None
    success_next_label: Texts = field(default_factory=dict)
    allowed_origins: tuple[str, ...] = ()
    partner: str | None = None
    status: str = "active"
    description: str | None = None
    # What visitors see as the form's title, per language; `name` when there is none.
    title: Texts = field(default_factory=dict)

    def text(self, texts: Texts, language: str) -> str:
        """A text of this form in `language`, else in the form's own language, else any."""
        return texts.get(language) or texts.get(self.language) or text_for(texts, language)

    @property
    def languages(self) -> set[str]:
        """The languages the form is written in: its own, and those of its title, success
        message and consent texts (the well-known fields' labels are translated anyway)."""
        found = {self.language, *self.title, *self.success_message}
        for consent in self.consents:
            found.update(consent.text)
        return found

    def title_in(self, language: str) -> str:
        """The title a visitor reads: per language with the form's fallback, else `name`."""
        return self.text(self.title, language) or self.name

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_document(self) -> dict[str, Any]:
        """The canonical dictionary: what is exported as YAML and hashed for versions."""
        doc: dict[str, Any] = {
            "slug": self.slug,
            "name": self.name,
            "conversion": self.conversion,
            "language": self.language,
        }
        if self.title:  # only when set, so existing documents keep their digest
            doc["title"] = dict(self.title)
        if self.description:
            doc["description"] = self.description
        if self.magnet:
            doc["magnet"] = self.magnet
        if self.email_magnet:  # only when set, so existing documents keep their digest
            doc["email_magnet"] = True
        doc["fields"] = [_field_document(f) for f in self.fields]
        doc["consents"] = [asdict(c) for c in self.consents]
        doc["double_opt_in"] = self.double_opt_in
        doc["success"] = {"message": dict(self.success_message), "redirect": self.success_redirect}
        if self.success_next_url:  # only when set, so existing documents keep their digest
            doc["success"]["next"] = {
                "url": self.success_next_url,
                "label": dict(self.success_next_label),
            }
        doc["allowed_origins"] = list(self.allowed_origins)
        if self.partner:
            doc["partner"] = self.partner
        if self.status != "active":
            doc["status"] = self.status
        return doc

    def digest(self) -> str:
        canonical = json.dumps(self.to_document(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _field_document(spec: FieldSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": spec.name, "type": spec.type}
    if spec.required:
        doc["required"] = True
    if spec.label:
        doc["label"] = dict(spec.label)
    if spec.options:
        doc["options"] = [
            o.value if o.label == {} else {"value": o.value, "label": dict(o.label)}
            for o in spec.options
        ]
    if spec.max_length:
        doc["max_length"] = spec.max_length
    if spec.source:
        doc["source"] = spec.source
    if spec.placeholder:
        doc["placeholder"] = dict(spec.placeholder)
    if spec.help:
        doc["help"] = dict(spec.help)
    return doc


def language_for(texts: Texts, language: str) -> str:
    """The language of the text shown: `language`, else English, else any there is."""
    return next((lang for lang in (language, "en", *texts) if texts.get(lang)), language)


def text_for(texts: Texts, language: str) -> str:
    """The text in `language`, falling back to English, then to any text there is."""
    return texts.get(language_for(texts, language), "")
