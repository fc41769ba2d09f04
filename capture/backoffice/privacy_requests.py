"""/admin/privacy-requests: the exports and erasures people asked for themselves (admins).

The requests come from the self-service links (capture.delivery.selfservice); this page is
the company's record that it answered them. Newest first, by keyset on the id.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import BaseModel

from capture.accounts import protect
from capture.base.db import db
from capture.delivery.selfservice import PrivacyRequest
from capture.leads.lead import Lead
from capture.web.params import Whole, page_query

bp = Blueprint("privacy_requests", __name__, url_prefix="/admin/privacy-requests")
protect(bp)  # admins: erasure is theirs, and so is the record of it

PAGE_SIZE = 50


class RequestsQuery(BaseModel):
    before: Annotated[int | None, Whole(1, 2**63 - 1)] = None


@bp.get("/")
def index() -> ResponseReturnValue:
    statement = (
        sa.select(PrivacyRequest, Lead.public_id, Lead.erased_at)
        .join(Lead, Lead.id == PrivacyRequest.lead_id)
        .order_by(PrivacyRequest.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    before = page_query(RequestsQuery, request.args).before
    if before:
        statement = statement.where(PrivacyRequest.id < before)
    rows = db.session.execute(statement).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "backoffice/privacy_requests.html",
        rows=rows,
        next_url=url_for(".index", before=rows[-1][0].id) if more else None,
    )
