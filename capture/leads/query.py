"""The lead filters a query string may carry, as one model for the API and the back office.

`LeadFilterQuery` checks the values (a huge `score_min` or a NUL byte is refused here, not by
the database) and the OpenAPI document describes the API's parameters from the same model.
"""

from __future__ import annotations

from typing import Annotated, Any

from email_validator import EmailNotValidError
from flask_babel import gettext as _
from pydantic import BeforeValidator, Field

from capture.base.lifecycle import Stage
from capture.forms.values import normalise_email
from capture.leads.listing import LeadFilter
from capture.leads.scoring import Temperature
from capture.web.params import Says, Strict, Text, Whole, one_of

SCORE_LIMIT = 10**9


def _email(value: Any) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 320:
        raise ValueError("email")
    try:
        return normalise_email(value.strip())
    except EmailNotValidError:
        raise ValueError("email") from None


Slug = Annotated[str | None, Text(80), Says(lambda: _("Must be a slug of at most 80 characters."))]
Email = Annotated[
    Annotated[str, Field(max_length=320, json_schema_extra={"format": "email"})] | None,
    BeforeValidator(_email),
    Says(lambda: _("Enter a valid e-mail address.")),
]
Score = Annotated[int | None, Whole(-SCORE_LIMIT, SCORE_LIMIT)]


class LeadFilterQuery(Strict):
    stage: Annotated[tuple[Stage, ...], Says(one_of(*Stage))] = Field(
        (), description="lifecycle stages, comma-separated or repeated"
    )
    temperature: Annotated[tuple[Temperature, ...], Says(one_of(*Temperature))] = Field(
        (), description="cold, warm, hot; comma-separated or repeated"
    )
    score_min: Score = Field(None, description="score at least")
    score_max: Score = Field(None, description="score at most")
    form: Slug = Field(None, description="converted on this form (slug)")
    partner: Slug = Field(None, description="attributed to this partner")
    owner: Annotated[
        str | None, Text(40), Says(lambda: _("Use me, none, any or a user id (usr_...)."))
    ] = Field(None, description="owned by: a user id (usr_...), none (nobody), any")

    def lead_filter(self, **more: Any) -> LeadFilter:
        return LeadFilter(
            stages=tuple(s.value for s in self.stage),
            temperatures=tuple(t.value for t in self.temperature),
            score_min=self.score_min,
            score_max=self.score_max,
            form=self.form,
            partner=self.partner,
            **more,
        )
