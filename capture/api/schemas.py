"""The API's request models (they check what clients send) and answer models (they describe
what we send back). `capture.api.openapi` builds the OpenAPI document from these classes, so
the document says exactly what the checks accept.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from flask_babel import gettext as _
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    WithJsonSchema,
    create_model,
)

from capture.base.lifecycle import CONVERSION_KINDS, Stage
from capture.leads.lead import PROFILE_COLUMNS
from capture.leads.query import Email, LeadFilterQuery
from capture.leads.scoring import Temperature, kind_classes
from capture.web.params import Moment, Says, Strict, Text, Whole, one_of, refuse

MAX_LIMIT = 500
KINDS = sorted(CONVERSION_KINDS)
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
AnObject = Says(lambda: _("Must be an object."))


def _blank(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise refuse(_("This field is required."))
    return value.strip() if isinstance(value, str) else value


def _kind(value: Any) -> Any:
    """A kind in force: the built-ins and those added at run time (checked per request)."""
    value = _blank(value)
    if not isinstance(value, str) or value not in kind_classes():
        raise ValueError("kind")
    return value


def _kinds_in_force() -> str:
    return one_of(*sorted(kind_classes()))()


class LeadListQuery(LeadFilterQuery):
    since: Moment = Field(None, description="changed at or after")
    email: Email = Field(None, description="this e-mail address, exactly (case-insensitive)")
    limit: Annotated[int | None, Whole(1, MAX_LIMIT)] = Field(
        None, description="page size, default 50"
    )
    cursor: Annotated[
        Annotated[str, Field(max_length=200)] | None,
        Says(lambda: _("This cursor is not valid.")),
    ] = Field(None, description="next_cursor of the previous page")


class StageChangeRequest(Strict):
    to: Annotated[Stage, BeforeValidator(_blank), Says(one_of(*Stage))]
    reason: Annotated[str, Text(500, required=True)]


def _country(value: str | None) -> str | None:
    if value is not None and not COUNTRY_RE.match(value):
        raise refuse(_("Use a two-letter country code (DK, SE, ...)."))
    return value.upper() if value else value


class EventProfile(Strict):
    """Only known lead fields, as text; anything else is refused, never stored."""

    first_name: Annotated[str | None, Text(300)] = None
    last_name: Annotated[str | None, Text(300)] = None
    phone: Annotated[str | None, Text(40)] = None
    company: Annotated[str | None, Text(300)] = None
    job_title: Annotated[str | None, Text(300)] = None
    company_size: Annotated[str | None, Text(300)] = None
    industry: Annotated[str | None, Text(300)] = None
    country: Annotated[str | None, Text(2), AfterValidator(_country)] = None
    website: Annotated[str | None, Text(2048)] = None
    message: Annotated[str | None, Text(5000)] = None
    budget: Annotated[str | None, Text(300)] = None
    authority: Annotated[str | None, Text(300)] = None
    need: Annotated[str | None, Text(300)] = None
    timeline: Annotated[str | None, Text(300)] = None


def _number(value: Any) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError("number")
    return value


class EventRequest(Strict):
    email: Annotated[str, Text(320, required=True)]
    kind: Annotated[
        str,
        BeforeValidator(_kind),
        WithJsonSchema(
            {
                "type": "string",
                "pattern": "^[a-z][a-z0-9_]{1,39}$",
                "description": "a conversion kind in force (GET /api/v1/conversion-kinds): "
                + ", ".join(KINDS)
                + " and any added at run time",
            }
        ),
        Says(_kinds_in_force),
    ]
    occurred_at: Moment = None
    percent: Annotated[
        Annotated[float, Field(ge=0, le=100)] | None,
        BeforeValidator(_number),
        Says(lambda: _("Must be a number from 0 to 100.")),
    ] = Field(None, description="video_view: share watched; scales the points")
    direction: Annotated[
        Literal["inbound", "outbound"] | None,
        BeforeValidator(lambda value: None if value == "" else value),
        Says(lambda: _("Use inbound or outbound.")),
    ] = Field(
        None,
        description="source of a new lead; default outbound for phone_call and sales_email, "
        "else inbound",
    )
    note: Annotated[str | None, Text(2000)] = None
    partner: Annotated[str | None, Text(80)] = None
    fields: Annotated[EventProfile | None, AnObject] = Field(
        None, description="lead profile fields by name"
    )
    context: Annotated[dict[str, Any] | None, AnObject] = Field(
        None, description="utm_*, referrer, page_url"
    )


# Answers: not checked, described.


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, list[str]] | None = None


class Error(BaseModel):
    error: ErrorDetail


class ConsentState(BaseModel):
    """A purpose's state: the latest record on the person's consent ledger decides it."""

    state: Literal["granted", "pending", "withdrawn"] = Field(
        description="granted (given, or confirmed by e-mail), pending (a double opt-in not yet "
        "confirmed) or withdrawn"
    )
    at: datetime = Field(description="when the latest record was made (or confirmed)")


class Owner(BaseModel):
    id: str = Field(description="the sales user's id (usr_...)")
    email: str = Field(json_schema_extra={"format": "email"})


class LeadBase(BaseModel):
    id: str
    email: str = Field(json_schema_extra={"format": "email"})
    lifecycle_stage: Stage
    score: int
    temperature: Temperature
    engagement_score: float = 0.0
    fit_score: int = 0
    source: Literal["inbound", "outbound"] = "inbound"
    partner: str | None
    first_touch: dict[str, Any]
    last_touch: dict[str, Any]
    properties: dict[str, Any] = {}
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime | None = None
    consents: dict[str, ConsentState] = Field(
        default_factory=dict,
        description="state per purpose (processing, marketing, ...); a purpose never asked "
        "about is absent",
    )
    owner: Owner | None = Field(None, description="the sales user who owns the lead (routing)")


# The profile columns, text or null (capture.leads.lead.PROFILE_COLUMNS).
Lead = create_model(
    "Lead",
    __base__=LeadBase,
    **{name: (str | None, None) for name in PROFILE_COLUMNS},  # type: ignore[call-overload]
)


class LeadPage(BaseModel):
    leads: list[Lead]  # type: ignore[valid-type]
    next_cursor: str | None


class Conversion(BaseModel):
    kind: str
    classification: str


class EventRecorded(BaseModel):
    event: str
    lead: str
    lead_created: bool
    conversion: Conversion
    lifecycle_stage: str
    score: int
    temperature: str


# Webhook events (the OpenAPI document's `webhooks`): what a receiver gets.


class ConsentChangedData(BaseModel):
    lead: Lead  # type: ignore[valid-type]
    purpose: str = Field(description="processing, marketing, ...")
    state: Literal["granted", "pending", "withdrawn"] = Field(
        description="the purpose's state after this record"
    )
    method: str = Field(
        description="checkbox, notice, double_opt_in, unsubscribe_link, preference_page, ..."
    )
    changed_at: datetime


class ConsentChangedEvent(BaseModel):
    """`consent.changed`: one record added to the person's consent ledger."""

    type: Literal["consent.changed"]
    timestamp: datetime
    data: ConsentChangedData
