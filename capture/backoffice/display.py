"""How the back office shows values: stage names, times, and a lead's answers with the labels
of the form they were given on.

Times: `<time datetime>` gets whole seconds in UTC (`2026-12-05T23:34:21Z`; six fractional
digits are not a valid HTML date string), the text the installation's time zone
(LEADGATE_TIMEZONE, an IANA name, default UTC) in the reader's language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask_babel import format_datetime
from flask_babel import gettext as _
from wtforms.csrf.core import CSRFTokenField
from wtforms.widgets import HiddenInput

from capture.forms.spec import FormSpec
from capture.submissions.public import field_label, field_options, standard_labels

# Stage values as people say them; the acronyms stay acronyms.
STAGE_NAMES = {
    "lead": "Lead",
    "mql": "MQL",
    "sal": "SAL",
    "sql": "SQL",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "disqualified": "Disqualified",
}


def stage_name(stage: Any) -> str:
    value = str(getattr(stage, "value", stage) or "")
    return STAGE_NAMES.get(value, value.replace("_", " ").capitalize())


def machine_time(moment: datetime | None) -> str:
    """A valid HTML `datetime` attribute: UTC, whole seconds, `Z`."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_time(moment: datetime | None, seconds: bool = False) -> str:
    """`5 Dec 2026, 23:34` in the installation's time zone and the reader's language."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(format_datetime(moment, "d MMM y, HH:mm:ss" if seconds else "d MMM y, HH:mm"))


# Keys of attribution and touches, as the back office names them.
KEY_LABELS = {
    "page_url": "Page",
    "referrer": "Referrer",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "utm_term": "UTM term",
    "utm_content": "UTM content",
    "variant": "Landing page variant",
    "at": "When",
}


def humanise_key(name: str) -> str:
    """`decision_maker` -> `Decision maker`: for keys no form labels."""
    if name in KEY_LABELS:
        return KEY_LABELS[name]
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def readable(value: Any) -> Any:
    """A stored ISO time (`2026-12-05T23:46:58.473513+00:00`) as a local time; else as is."""
    if isinstance(value, datetime):
        return local_time(value, seconds=True)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return local_time(datetime.fromisoformat(value), seconds=True)
        except ValueError:
            return value
    return value


def profile_label(name: str) -> str:
    """A lead column's name as the forms label it (`first_name` -> `First name`)."""
    return standard_labels().get(name) or humanise_key(name)


def labelled_answers(form: Any, fields: Any, language: str) -> Any:
    """A submission's answers under the labels of the form they were given on, option values
    replaced by the options' labels; keys the form does not know (any more) humanised."""
    if not isinstance(fields, dict):
        return fields
    spec: FormSpec | None = getattr(form, "spec", None)
    known = {field.name: field for field in spec.fields} if spec else {}
    shown: dict[str, Any] = {}
    for name, answer in fields.items():
        field = known.get(name)
        if field is None:
            shown[humanise_key(name)] = answer
            continue
        options = dict(field_options(field, language)) if field.options else {}
        if isinstance(answer, list):
            answer = [options.get(str(item), item) for item in answer]
        elif isinstance(answer, bool):
            answer = _("Yes") if answer else _("No")
        else:
            answer = options.get(str(answer), answer)
        shown[field_label(field, language)] = answer
    return shown


class _HiddenWithoutId(HiddenInput):
    """The CSRF token's input: a page with several forms has one per form, and an `id` on
    each (wtforms gives it its name, `csrf_token`) made the ids of the page repeat."""

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("id", False)  # html_params leaves out False
        return super().__call__(field, **kwargs)


def init_app(app: Flask) -> None:
    CSRFTokenField.widget = _HiddenWithoutId()
    app.add_template_filter(stage_name)
    app.add_template_filter(machine_time)
    app.add_template_filter(local_time)
    app.add_template_filter(humanise_key)
    app.add_template_filter(profile_label)
    app.add_template_filter(readable)
