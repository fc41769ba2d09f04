"""Form definitions as plain data: parsing, validation and the canonical form used for versions.

A definition arrives as YAML (forms as code), from the back office, or from the database; all of
them pass through `parse_definition`, which either returns a `FormSpec` or raises
`DefinitionError` listing every problem by its path (`fields[2].type: ...`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import idna

from capture.leads.classify import CONVERSION_KINDS

LANGUAGES = ("da", "sv", "en")
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
CONSENT_PURPOSES = frozenset({"processing", "marketing", "profiling", "third_party"})
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_MAX_LENGTH = {"textarea": 5000, "url": 2048}
TOP_LEVEL_KEYS = frozenset(
    {
        "slug",
        "name",
        "conversion",
        "language",
        "magnet",
        "email_magnet",
        "fields",
        "consents",
        "double_opt_in",
        "success",
        "allowed_origins",
        "partner",
        "status",
        "description",
    }
)


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


def is_allowed_origin(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and parts.path in {"", "/"}
        and not parts.query
        and not parts.fragment
        and not parts.username
    )


def normalise_origin(value: str) -> str:
    """The origin as a browser serialises it in its `Origin` header, so the two compare equal.

    Lower-case scheme and host, no default port, IPv6 literals in brackets, non-ASCII host names
    in punycode (UTS #46, as browsers do). Raises ValueError for anything that is not an http(s)
    origin, `null` included.
    """
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in {"http", "https"} or not host:
        raise ValueError(f"not an http(s) origin: {value!r}")
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise ValueError(f"not a host name: {host!r}") from error
    default_port = {"http": 80, "https": 443}[scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{scheme}://{host}{port}"


# Control characters (tab and line breaks aside) and lone surrogates: no database stores them
# alike (PostgreSQL refuses NUL, SQLite keeps it) and no UTF-8 encoder takes a lone surrogate.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _unstorable_texts(document: dict[str, Any]) -> list[str]:
    """Paths of the texts (keys included) in a document that cannot be stored as written."""
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:  # a loop, not recursion: a document may nest as deep as JSON allows
        path, value = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    found.append(path or "definition")
                else:
                    pending.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return sorted(set(found))


def _is_one_of(value: Any, choices: Collection[str]) -> bool:
    """A membership test that YAML lists and mappings (unhashable) cannot crash."""
    return isinstance(value, str) and value in choices


class _Reader:
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
        if not _is_one_of(kind, FIELD_TYPES):
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
        if not _is_one_of(purpose, CONSENT_PURPOSES):
            self.problem(f"{path}.purpose", f"must be one of {', '.join(sorted(CONSENT_PURPOSES))}")
            return None
        required = self.boolean(raw.get("required"), f"{path}.required")
        if purpose == "marketing" and required:
            # EU rules: marketing consent must be freely given, so it can never be a condition.
            self.problem(f"{path}.required", "marketing consent cannot be required")
        return ConsentSpec(
            purpose=purpose,
            required=required,
            text=self.texts(raw.get("text"), f"{path}.text", required=True),
        )


def parse_definition(raw: Any) -> FormSpec:
    """Validate a definition document and return its spec, or raise `DefinitionError`."""
    reader = _Reader()
    if not isinstance(raw, dict):
        raise DefinitionError(["definition: must be a mapping"])
    for path in _unstorable_texts(raw):
        reader.problem(path, "contains control characters or invalid Unicode")
    for key in sorted(set(raw) - TOP_LEVEL_KEYS):
        reader.problem(key, "unknown key")

    slug = raw.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        reader.problem("slug", "must be 1-80 lower-case letters, digits and hyphens")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        reader.problem("name", "is required")
    conversion = raw.get("conversion")
    if not _is_one_of(conversion, CONVERSION_KINDS):
        reader.problem(
            "conversion",
            f"unknown conversion kind {conversion!r} (use {', '.join(sorted(CONVERSION_KINDS))})",
        )
    language = raw.get("language", "en")
    if not _is_one_of(language, LANGUAGES):
        reader.problem("language", f"must be one of {', '.join(LANGUAGES)}")
    magnet = raw.get("magnet")
    if magnet is not None and (not isinstance(magnet, str) or not SLUG_RE.match(magnet)):
        reader.problem("magnet", "must be a magnet slug")
    partner = raw.get("partner")
    if partner is not None and (not isinstance(partner, str) or not SLUG_RE.match(partner)):
        reader.problem("partner", "must be a partner slug")
    status = raw.get("status", "active")
    if not _is_one_of(status, ("active", "closed")):
        reader.problem("status", "must be active or closed")

    fields: list[FieldSpec] = []
    raw_fields = raw.get("fields", [])
    if not isinstance(raw_fields, list):
        reader.problem("fields", "must be a list")
        raw_fields = []
    for i, raw_field in enumerate(raw_fields):
        parsed = reader.field(raw_field, f"fields[{i}]")
        if parsed:
            fields.append(parsed)
    names = [f.name for f in fields]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        reader.problem("fields", f"field {duplicate!r} appears more than once")
    if "email" not in names:
        fields.insert(0, FieldSpec(name="email", type="email", required=True))

    consents: list[ConsentSpec] = []
    raw_consents = raw.get("consents", [])
    if not isinstance(raw_consents, list):
        reader.problem("consents", "must be a list")
        raw_consents = []
    for i, raw_consent in enumerate(raw_consents):
        parsed_consent = reader.consent(raw_consent, f"consents[{i}]")
        if parsed_consent:
            consents.append(parsed_consent)
    purposes = [c.purpose for c in consents]
    if len(set(purposes)) != len(purposes):
        reader.problem("consents", "each purpose may appear once")
    if "processing" not in purposes:
        reader.problem(
            "consents", "a processing consent (the text shown with the form) is required"
        )

    success = raw.get("success") or {}
    if not isinstance(success, dict):
        reader.problem("success", "must be a mapping with message and redirect")
        success = {}
    redirect = success.get("redirect")
    origins: list[str] = []
    raw_origins = raw.get("allowed_origins", [])
    if not isinstance(raw_origins, list):
        reader.problem("allowed_origins", "must be a list of origins")
        raw_origins = []
    for i, origin in enumerate(raw_origins):
        if not isinstance(origin, str) or not is_allowed_origin(origin):
            reader.problem(
                f"allowed_origins[{i}]", "must be an origin like https://www.example.com"
            )
        else:
            origins.append(normalise_origin(origin))
    if redirect is not None and not _safe_redirect(redirect, origins):
        reader.problem(
            "success.redirect",
            "must be a path on this site (/thanks) or a URL on one of the allowed origins",
        )

    double_opt_in = reader.boolean(raw.get("double_opt_in"), "double_opt_in")
    email_magnet = reader.boolean(raw.get("email_magnet"), "email_magnet")
    if email_magnet and not magnet:
        reader.problem("email_magnet", "needs a magnet to e-mail")
    success_message = reader.texts(success.get("message"), "success.message")
    next_url, next_label = _next_step(reader, success.get("next"))
    if reader.problems:
        raise DefinitionError(reader.problems)
    return FormSpec(
        slug=slug,
        name=name.strip(),
        conversion=conversion,
        language=language,
        magnet=magnet,
        email_magnet=email_magnet,
        fields=tuple(fields),
        consents=tuple(consents),
        double_opt_in=double_opt_in,
        success_message=success_message,
        success_redirect=redirect,
        success_next_url=next_url,
        success_next_label=next_label,
        allowed_origins=tuple(dict.fromkeys(origins)),
        partner=partner,
        status=status,
        description=raw.get("description") if isinstance(raw.get("description"), str) else None,
    )


def _next_step(reader: Any, raw: Any) -> tuple[str | None, Texts]:
    """`success.next`: {url: a path on this site or an http(s) URL, label: texts}, optional."""
    if raw is None:
        return None, {}
    if not isinstance(raw, dict):
        reader.problem("success.next", "must be a mapping with url and label")
        return None, {}
    url = raw.get("url")
    if not _link_target(url):
        reader.problem("success.next.url", "must be a path on this site or an http(s) URL")
        url = None
    return url, reader.texts(raw.get("label"), "success.next.label", required=True)


def _link_target(url: Any) -> bool:
    if not isinstance(url, str) or not url or len(url) > 2000:
        return False
    if any(c in url for c in '\\\r\n\t <>"'):
        return False
    if url.startswith("/"):
        return not url.startswith("//")
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _safe_redirect(target: Any, origins: list[str]) -> bool:
    """Same-site paths or URLs on an allowed origin only: no open redirects through forms."""
    if not isinstance(target, str) or not target or any(c in target for c in "\\\r\n\t"):
        return False
    if target.startswith("/") and not target.startswith("//"):
        return True
    try:
        return urlsplit(target).scheme in {"http", "https"} and normalise_origin(target) in origins
    except ValueError:  # "https://[::1", a port out of range: not a place to send people
        return False
