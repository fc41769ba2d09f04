"""The JSON envelope of an API submission: which keys it may have and what each must be.

The form's own fields inside `fields` are checked by the form definition (capture.forms.values),
since they differ per form; this model checks the envelope around them and is what the OpenAPI
document shows. Unlike the authenticated API, a key the envelope does not know is ignored (and
never stored), not refused: a visitor's page sent it, and a 400 there would lose the lead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from flask_babel import gettext as _
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema

from capture.web.params import Strict, refuse

MAX_KEYS = 200
STRING = WithJsonSchema({"type": "string"})


def _mapping(key: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise refuse(_("`%(key)s` must be an object.", key=key))
        if len(value) > MAX_KEYS:
            raise refuse(_("`%(key)s` has too many entries.", key=key))
        return value

    return check


def _keys(description: str) -> Any:
    return Field(
        default_factory=dict,
        description=description,
        json_schema_extra={"maxProperties": MAX_KEYS},
    )


class SubmissionEnvelope(Strict):
    model_config = ConfigDict(extra="ignore", frozen=True)

    fields: Annotated[dict[str, Any], BeforeValidator(_mapping("fields"))] = _keys(
        "the form's fields by name, as its definition says"
    )
    consents: Annotated[dict[str, Any], BeforeValidator(_mapping("consents"))] = _keys(
        "purpose: true or false, for the consents the form asks"
    )
    context: Annotated[dict[str, Any], BeforeValidator(_mapping("context"))] = _keys(
        "page_url, referrer, utm_*, variant; odd values are dropped, not refused"
    )
    token: Annotated[Any, STRING] = Field(None, description="form token from the definition")
    captcha: Annotated[Any, STRING] = Field(None, description="the CAPTCHA widget's answer")
    idempotency_key: Annotated[Any, STRING] = Field(
        None, description="for clients that cannot send the Idempotency-Key header"
    )
