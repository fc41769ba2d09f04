"""`GET /d/<token>`: signed download links, and `POST /d/renew` for a fresh one by e-mail.

Answers: a working link records the download and redirects (302) to a presigned URL built
here on the server, or streams the local file; tampered or unknown tokens 404; a revoked link
or an archived magnet 410 (revocation is deliberate, so no fresh link is offered); an expired
link 410 with an offer to e-mail a fresh link to the address on file; an unreachable store
503 with Retry-After, recording nothing, so the same link works once the store is back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import IO

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response as AnyResponse

from capture.base.db import db, is_postgresql, utcnow
from capture.base.extensions import csrf, limiter
from capture.submissions.client import user_agent
from capture.submissions.consents import stored_ip
from capture.web.errors import respond, wants_json
from capture.web.i18n import visitor_language
from capture.web.tokens import ExpiredToken, InvalidToken, Purpose, sign, verify
from magnets.delivery import send_fresh_link
from magnets.grants import (
    DownloadGrant,
    GrantSource,
    find_grant,
    issue_grant,
    renewals_since,
    usable_grant,
)
from magnets.magnet import MagnetStatus
from magnets.recording import record_download, record_quickly
from magnets.storage import StorageUnavailable, content_disposition, storage

log = logging.getLogger(__name__)

bp = Blueprint("links", __name__)
# The signed token in the URL or form is the capability; the POST can only ever send mail to
# the address already on file, so a session-bound CSRF token would add nothing.
csrf.exempt(bp)

RETRY_AFTER_SECONDS = 30
RENEW_OFFER_SECONDS = 24 * 3600
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class Unusable(Exception):
    """The link cannot be used; carries the answer to give."""

    def __init__(self, response: ResponseReturnValue):
        self.response = response


def _not_found() -> Unusable:
    return Unusable(respond(404, "not_found", _("This download link is not valid."), NO_STORE))


def _gone(message: str) -> Unusable:
    return Unusable(respond(410, "gone", message, NO_STORE))


def _grant(purpose: Purpose, token: str, max_age: int | None = None) -> DownloadGrant:
    try:
        public_id, _issued = verify(purpose, token, max_age=max_age)
    except ExpiredToken:
        # Only the renewal offer's token has a max_age: the page was left open too long.
        raise _gone(_("This page has expired. Open your download link again.")) from None
    except InvalidToken:
        raise _not_found() from None
    grant = (
        find_grant(public_id, with_lead=purpose != Purpose.DOWNLOAD)
        if isinstance(public_id, str)
        else None
    )
    if grant is None:
        raise _not_found()
    visitor_language(grant.language)
    if grant.revoked_at is not None:
        raise _gone(_("This download link has been withdrawn."))
    if grant.magnet.status == MagnetStatus.ARCHIVED:
        raise _gone(_("This material is no longer available."))
    if not grant.magnet.is_published or grant.magnet.current_file is None:
        raise _not_found()
    return grant


def _here() -> str:
    """This page again, as a path: a link in an answer never carries the request's Host."""
    return request.full_path.rstrip("?") if request.query_string else request.path


def _unavailable() -> Response:
    headers = {**NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)}
    message = _("The download is briefly unavailable. Please try again in a moment.")
    if wants_json():
        return respond(503, "unavailable", message, headers)
    page = render_template("magnets/unavailable.html", message=message, retry=_here())
    return Response(page, 503, headers)


def _expired(grant: DownloadGrant) -> Response:
    if wants_json():
        return respond(410, "link_expired", _("This download link has expired."), NO_STORE)
    page = render_template(
        "magnets/expired.html",
        magnet=grant.magnet,
        renew_token=sign(Purpose.FRESH_LINK, grant.public_id),
    )
    return Response(page, 410, NO_STORE)


@bp.get("/d/<token>")
def download(token: str) -> ResponseReturnValue:
    if not is_postgresql() or (db.session.registry.has() and db.session().in_transaction()):
        # (A request begins with no transaction; one already open, as in a test sharing the
        # session, is simply used.)
        return _download(token)
    answer = _quickly(token)
    if answer is not None:
        return answer
    # Every other answer, and a download the quick way could not record: one read and one
    # write through the ORM, each atomic on its own, without BEGIN and COMMIT.
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        return _download(token)
    finally:
        db.session.rollback()  # gives the connection back now, with autocommit undone


def _quickly(token: str) -> AnyResponse | None:
    """A working link on PostgreSQL: two statements in autocommit straight through the
    driver (the grant with its magnet and file; the download with the lead's activity and
    score) and a presigned URL, no ORM and no session. None when the link needs another
    answer (refusals, expiry, a file streamed from disk) or the download could not be
    recorded in one statement: `_download` then does it all, the same way as ever."""
    try:
        public_id, _issued = verify(Purpose.DOWNLOAD, token)
    except InvalidToken:
        return None
    store = storage()
    if not isinstance(public_id, str) or not store.presigns:
        return None
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        usable = usable_grant(connection, public_id)
        if usable is None:
            return None
        try:
            url = store.presigned_url(usable.storage_key, usable.original_name, usable.content_type)
        except StorageUnavailable as exc:
            visitor_language(usable.language)
            log.warning("download of %s held back: %s", usable.slug, exc)
            return _unavailable()
        if url is None:  # pragma: no cover - a store that presigns returns URLs
            return None
        if request.method != "HEAD":  # link previews and checkers are not downloads
            ip, agent = stored_ip(request.remote_addr), user_agent()
            if not record_quickly(connection, usable, ip, agent):
                return None
    response = redirect(url, 302)
    response.headers["Content-Disposition"] = content_disposition(usable.original_name)
    response.headers.update(NO_STORE)
    return response


def _download(token: str) -> ResponseReturnValue:
    try:
        grant = _grant(Purpose.DOWNLOAD, token)
    except Unusable as unusable:
        return unusable.response
    if grant.expired():
        return _expired(grant)
    file = grant.magnet.current_file
    if file is None:  # _grant has refused a magnet without a file already
        return _not_found().response
    stream: IO[bytes] | None = None
    try:
        url = storage().presigned_url(file.storage_key, file.original_name, file.content_type)
        if url is None:
            stream = storage().open(file.storage_key)
    except StorageUnavailable as exc:
        log.warning("download of %s held back: %s", grant.magnet.slug, exc)
        return _unavailable()
    # Read before the commit, which expires the row: reading it after costs another query.
    name, content_type, size = file.original_name, file.content_type, file.size
    try:
        if request.method != "HEAD":  # link previews and checkers are not downloads
            record_download(grant, file, stored_ip(request.remote_addr), user_agent())
            db.session.commit()
    except BaseException:
        if stream is not None:
            stream.close()
        raise
    if stream is None:
        response = redirect(url, 302)  # type: ignore[arg-type]
    else:
        response = send_file(stream, mimetype=content_type, conditional=False, etag=False)
        response.content_length = size
    response.headers["Content-Disposition"] = content_disposition(name)
    response.headers.update(NO_STORE)
    return response


@bp.post("/d/renew")
@limiter.limit(lambda: current_app.config["RATELIMIT_FRESH_LINK"])
def renew() -> ResponseReturnValue:
    """E-mail a fresh link to the address on file; never to one the visitor types.

    At most one fresh link a day per expired link, and the answer is the same either way, so
    the page can be neither a mail cannon nor a way to learn anything about the lead.
    """
    try:
        grant = _grant(Purpose.FRESH_LINK, request.form.get("token", ""), RENEW_OFFER_SECONDS)
    except Unusable as unusable:
        return unusable.response
    if not renewals_since(grant, utcnow() - timedelta(days=1)):
        fresh = issue_grant(
            grant.lead,
            grant.magnet,
            language=grant.language,
            source=GrantSource.FRESH_LINK,
            renewed_from=grant,
        )
        send_fresh_link(fresh)
        db.session.commit()
    return render_template("magnets/renewed.html", magnet=grant.magnet), 202
