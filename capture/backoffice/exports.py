"""/admin/exports: the lead list's current filter as CSV, JSON Lines or .xlsx (marketing).

Nothing is sent before the export has started well: the query string is checked and the
first chunk made (the query run) before the headers go out, so a bad filter is a 400 page,
not a 200 with a header row and a cut connection. A stream that fails later ends with a line
saying so and without HTTP's final chunk (`guarded`), so it never looks complete.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

from flask import Blueprint, Response, abort, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from capture.accounts import Role, protect
from capture.backoffice import search
from capture.base.db import utcnow
from capture.forms.values import is_clean_text
from capture.leads.export import export_chunks, guarded
from capture.leads.xlsx import TooManyRows, write_xlsx
from capture.web.errors import ApiError

bp = Blueprint("exports", __name__, url_prefix="/admin/exports")
protect(bp, Role.MARKETER)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
PIECE = 64 * 1024


def _check_query() -> None:
    """Refuse a query string no database can search with (NUL, control characters)."""
    for key, value in request.args.items(multi=True):
        if not is_clean_text(key) or not is_clean_text(value):
            raise ApiError(400, "bad_request", _("The request could not be read."))


@bp.get("/leads.<fmt>")
def leads(fmt: str) -> ResponseReturnValue:
    if fmt not in FORMATS:
        abort(404)
    _check_query()
    wanted = search.from_args(request.args, me=current_user._get_current_object())
    name = f"leads-{utcnow():%Y%m%d-%H%M%S}.{fmt}"
    if fmt == "xlsx":
        response = _xlsx(wanted)
    else:
        body = stream_with_context(_streamed(export_chunks(wanted, fmt), fmt))
        # Runs the query now, so its errors come before the headers, and inside the stream's
        # own push of the app context: that push keeps the context (and the query's open
        # cursor or COPY) alive until the body ends. Run outside it, the query's session was
        # rolled back by the request's teardown, which a server runs before it reads the body.
        next(body)
        response = Response(body, mimetype=FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _xlsx(wanted: search.LeadSearch) -> Response:
    """The workbook is written whole to a temporary file (constant memory), then sent."""
    spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _pieces
    try:
        write_xlsx(wanted, spool)
    except TooManyRows:
        spool.close()
        raise ApiError(
            422, "validation_failed", _("Too many leads for one sheet; export CSV instead.")
        ) from None
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    response = Response(_pieces(spool), mimetype=FORMATS["xlsx"])
    response.headers["Content-Length"] = str(size)
    return response


def _streamed(chunks: Iterator[str], fmt: str) -> Iterator[str]:
    """The export's first chunk after an empty one that marks the query as run; then the rest,
    `guarded` (the first chunk's errors are the view's, answered before any header)."""
    first = next(chunks, "")
    yield ""
    yield first
    yield from guarded(chunks, fmt)


def _pieces(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while piece := spool.read(PIECE):
            yield piece
