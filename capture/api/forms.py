"""`/api/v1/forms` for integrations: list forms, read and replace a definition (forms as code).

The public routes under the same prefix (`GET /api/v1/forms/<slug>`, submissions) live in
`capture.submissions.api` and need no token; these do.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.api.body import invalid, json_object, no_query
from capture.api.token import protect
from capture.base.db import db
from capture.base.extensions import csrf
from capture.forms.definition import parse_definition
from capture.forms.spec import SLUG_RE, DefinitionError
from capture.forms.store import FormDefinition, get_form, save_spec
from capture.leads.scoring import kind_classes
from capture.web.errors import ApiError

bp = protect(Blueprint("forms_admin_api", __name__, url_prefix="/api/v1/forms"))
csrf.exempt(bp)
bp.before_request(no_query)


def _summary(form: FormDefinition) -> dict[str, object]:
    return {
        "slug": form.slug,
        "name": form.name,
        "conversion": form.conversion,
        "language": form.language,
        "status": form.status,
        "magnet": form.magnet,
        "partner": form.partner,
        "version": form.version,
        "created_at": form.created_at.isoformat(),
        "updated_at": form.updated_at.isoformat(),
    }


@bp.get("")
def list_forms() -> ResponseReturnValue:
    forms = db.session.scalars(sa.select(FormDefinition).order_by(FormDefinition.slug))
    return jsonify({"forms": [_summary(form) for form in forms]})


@bp.get("/<slug>/definition")
def get_definition(slug: str) -> ResponseReturnValue:
    form = get_form(slug) if SLUG_RE.match(slug) else None
    if form is None:
        raise ApiError(404, "form_not_found", _("There is no form at this address."))
    response = jsonify({"version": form.version, "definition": form.spec.to_document()})
    response.headers["ETag"] = f'"{form.digest}"'
    return response


def _problems(error: DefinitionError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for problem in error.problems:
        path, _sep, message = problem.partition(": ")
        fields.setdefault(path, []).append(message or problem)
    return fields


@bp.put("/<slug>/definition")
def put_definition(slug: str) -> ResponseReturnValue:
    """Create or replace the form at `slug`; an unchanged document changes nothing."""
    document = json_object()
    if document.get("slug", slug) != slug:
        raise invalid({"slug": [_("Must match the slug in the address.")]})
    document = {**document, "slug": slug}
    try:
        spec = parse_definition(document, kind_classes())
    except DefinitionError as error:
        raise invalid(_problems(error)) from None
    form, outcome = save_spec(spec)
    body = {"outcome": outcome, "version": form.version, "definition": spec.to_document()}
    db.session.commit()
    return jsonify(body), 201 if outcome == "created" else 200
