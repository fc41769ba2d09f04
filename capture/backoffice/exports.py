"""/admin/exports: the lead list's current filter as streamed CSV or JSON Lines (marketing)."""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context
from flask.typing import ResponseReturnValue

from capture.accounts import Role, protect
from capture.backoffice import search
from capture.db import utcnow
from capture.leads.export import export_chunks

bp = Blueprint("exports", __name__, url_prefix="/admin/exports")
protect(bp, Role.MARKETER)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}


@bp.get("/leads.<fmt>")
def leads(fmt: str) -> ResponseReturnValue:
    if fmt not in FORMATS:
        return Response(status=404)
    mimetype = FORMATS[fmt]
    wanted = search.from_args(request.args)
    name = f"leads-{utcnow():%Y%m%d-%H%M%S}.{fmt}"
    response = Response(stream_with_context(export_chunks(wanted, fmt)), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
