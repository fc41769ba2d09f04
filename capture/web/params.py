"""Typed request parameters: pydantic models that check query strings and JSON bodies strictly.

One model is both the check and the description: the OpenAPI document is built from the same
models (`model_json_schema`), so the two cannot drift apart. Models forbid names they do not
declare, so a misspelt filter (`?emial=`) is refused instead of silently matching everything.

A refusal is a `ParamError`: the unknown names, and for each invalid value the message its field
declares with `Says(...)`, translated when it is raised (so in the request's language). Callers
turn it into their answer: the API's contract error, the back office's 400 page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from flask_babel import gettext as _
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
)
from pydantic_core import PydanticCustomError, core_schema
from werkzeug.datastructures import MultiDict

from capture.web.errors import ApiError

M = TypeVar("M", bound=BaseModel)
OWN_ERROR = "leadgate"
MAX_NAMED = 20
NAME_LIMIT = 100


class Rule:
    """Annotated metadata that says what is wrong with an invalid value (pydantic ignores it)."""

    def says(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Says(Rule):
    """The message for any invalid value of this field."""

    message: Callable[[], str]

    def says(self) -> str:
        return self.message()


class Strict(BaseModel):
    """The base of every request model: unknown names are refused, nothing is coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamError(Exception):
    def __init__(self, unknown: list[str], fields: dict[str, list[str]]):
        super().__init__(", ".join(unknown) or ", ".join(fields))
        self.unknown = unknown
        self.fields = fields

    def message(self) -> str:
        if self.unknown:
            return _("Unknown parameter: %(names)s.", names=", ".join(self.unknown))
        name, problems = next(iter(self.fields.items()))
        return f"{name}: {problems[0]}"


def refuse(message: str) -> PydanticCustomError:
    """An error with its own message, where one field can be wrong in more than one way."""
    return PydanticCustomError(OWN_ERROR, "{message}", {"message": message})


def _nested(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _explain(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, str | None]:
    """The dotted name of the field at `loc` and the message of the innermost field's rule."""
    names: list[str] = []
    message = None
    current: type[BaseModel] | None = model
    for part in loc:
        fields = {f.alias or name: f for name, f in current.model_fields.items()} if current else {}
        field = fields.get(part) if isinstance(part, str) else None
        if field is None:
            if isinstance(part, str):
                names.append(part)  # a key the model does not know, or inside a free-form object
            break
        names.append(part)
        rules = [m for m in field.metadata if isinstance(m, Rule)]
        if rules:
            # The last is the outermost: `Annotated[str | None, Text(80), Says(...)]`.
            message = rules[-1].says()
        current = _nested(field.annotation)
    return ".".join(names) or str(loc[0]), message


def check(model: type[M], data: Mapping[str, Any]) -> M:
    """`data` as `model`, or a `ParamError` naming every unknown name and invalid value."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        unknown: list[str] = []
        fields: dict[str, list[str]] = {}
        for problem in error.errors():
            loc = tuple(problem["loc"])
            name, message = _explain(model, loc)
            if problem["type"] == "extra_forbidden":
                if len(loc) == 1:
                    if len(unknown) < MAX_NAMED:  # echoed back: a bounded answer
                        unknown.append(str(loc[0])[:NAME_LIMIT])
                    continue
                message = _("Unknown field.")
            elif problem["type"] == "missing":
                message = _("This field is required.")
            elif problem["type"] == OWN_ERROR:
                message = problem["msg"]
            fields.setdefault(name, []).append(message or _("This value is not valid."))
        raise ParamError(unknown, fields) from None


def page_query(model: type[M], args: MultiDict[str, str]) -> M:
    """`query` for a page people read: a refusal is a 400 page saying which value is wrong."""
    try:
        return query(model, args)
    except ParamError as error:
        raise ApiError(400, "bad_request", error.message()) from None


def query(model: type[M], args: MultiDict[str, str]) -> M:
    """The query string as `model`: an empty value counts as absent (`?score_min=`), list fields
    take repeated and comma-separated values, other fields their first value."""
    data: dict[str, Any] = {}
    for name in args:
        values = [value for value in args.getlist(name) if value != ""]
        if not values:
            continue
        field = model.model_fields.get(name)
        if field is not None and getattr(field.annotation, "__origin__", None) is tuple:
            data[name] = tuple(part for value in values for part in value.split(",") if part)
        else:
            data[name] = values[0]
    return check(model, data)


# Field types shared by the API and the back office.


def _blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _text(limit: int, required: bool) -> Callable[[Any], Any]:
    def clean(value: Any) -> Any:
        value = _blank(value)
        if value is None:
            if required:
                raise refuse(_("This field is required."))
            return None
        if not isinstance(value, str) or len(value) > limit or not value.isprintable():
            raise ValueError("text")
        return value.strip()

    return clean


@dataclass(frozen=True)
class Text(Rule):
    """On `str | None` (or `str`, required): printable text of at most `limit` characters,
    stripped; blank is None, or refused when `required`."""

    limit: int
    required: bool = False

    def says(self) -> str:
        return _("Must be text of at most %(limit)s characters.", limit=self.limit)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        limited = Annotated[str, Field(max_length=self.limit)]
        checked = handler.generate_schema(limited if self.required else limited | None)
        return core_schema.no_info_before_validator_function(
            _text(self.limit, self.required), checked
        )


def _moment(value: Any) -> Any:
    value = _blank(value)
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        if parsed is not None:
            # In UTC here, so a moment that leaves Python's range in UTC
            # (0001-01-01T00:00+14:00) is refused, not an OverflowError in a comparison.
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise ValueError("moment")
    return parsed


Moment = Annotated[
    datetime | None,
    BeforeValidator(_moment),
    Says(lambda: _("Must be an ISO 8601 date or time.")),
]


def _day(value: Any) -> Any:
    value = _blank(value)
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        raise ValueError("day") from None


# A day the back office can still add one to (`to` includes its whole day).
Day = Annotated[
    Annotated[date, Field(le=date(9999, 12, 30))] | None,
    BeforeValidator(_day),
    Says(lambda: _("Must be an ISO 8601 date or time.")),
]


def _whole(value: Any) -> Any:
    if isinstance(value, bool | float):
        raise ValueError("integer")
    return value


@dataclass(frozen=True)
class Whole(Rule):
    """On `int | None`: a whole number from `low` to `high` (query text, or a JSON integer)."""

    low: int
    high: int

    def says(self) -> str:
        return _("Must be a whole number from %(low)s to %(high)s.", low=self.low, high=self.high)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        bounded = Annotated[int, Field(ge=self.low, le=self.high)] | None
        return core_schema.no_info_before_validator_function(
            _whole, handler.generate_schema(bounded)
        )


def one_of(*values: str) -> Callable[[], str]:
    return lambda: _("Use one of: %(values)s.", values=", ".join(values))
