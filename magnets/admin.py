"""Back office for magnets at `/admin/magnets/`: list, upload, edit, publish, archive, replace.

Marketers and admins only (one `protect` for the whole blueprint). Upload views raise the
request size limit for themselves alone, so every other route keeps the small default; they
check CSRF themselves, after raising it, because the global check would read the body first.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from capture.accounts import Role, protect
from capture.base.db import db, utcnow
from capture.base.extensions import csrf
from capture.forms.store import FormDefinition
from capture.web.errors import ApiError
from magnets.admin_forms import (
    KIND_LABELS,
    ActionForm,
    CoverForm,
    DetailsForm,
    FileForm,
    NewMagnetForm,
)
from magnets.admin_landing import landing_context
from magnets.filetypes import Purpose, Refused
from magnets.grants import DownloadGrant, download_counts, grant_counts
from magnets.magnet import Magnet, MagnetError, get_magnet, unique_slug
from magnets.storage import StorageUnavailable, storage
from magnets.uploads import limit_for, receive, store_cover, store_file

log = logging.getLogger(__name__)

bp = Blueprint("magnets_admin", __name__, url_prefix="/admin/magnets")
protect(bp, Role.MARKETER)

FORM_OVERHEAD = 1024 * 1024  # the other fields and the multipart framing


def _accept_upload() -> None:
    """Let this one request be as large as a magnet plus a cover, then check CSRF."""
    request.max_content_length = (
        limit_for(Purpose.MAGNET) + limit_for(Purpose.COVER) + FORM_OVERHEAD
    )
    csrf.protect()


def _magnet(slug: str) -> Magnet:
    magnet = get_magnet(slug)
    if magnet is None:
        raise ApiError(404, "not_found", _("There is no magnet at this address."))
    return magnet


def _actor() -> str:
    return f"user:{current_user.email}"


@bp.get("/")
def index() -> ResponseReturnValue:
    magnets = db.session.scalars(sa.select(Magnet).order_by(Magnet.updated_at.desc())).all()
    return render_template(
        "admin/magnets/index.html",
        magnets=magnets,
        downloads=download_counts(),
        links=grant_counts(),
        kinds=KIND_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
@csrf.exempt
def new() -> ResponseReturnValue:
    if request.method == "POST":
        _accept_upload()
    form = NewMagnetForm()
    if not form.validate_on_submit():
        return _page("admin/magnets/new.html", 422 if form.is_submitted() else 200, form=form)
    slug = form.slug.data or unique_slug(form.title.data)
    if get_magnet(slug) is not None:
        form.slug.errors = [_("A magnet with this address exists already.")]
        return _page("admin/magnets/new.html", 409, form=form)
    magnet = Magnet(slug=slug)
    _apply(form, magnet)
    db.session.add(magnet)
    try:
        _store(magnet, form.file.data, form.cover.data)
        if form.publish.data:
            magnet.publish()
        db.session.commit()
    except _Refusal as refusal:
        db.session.rollback()
        getattr(form, refusal.field).errors = [refusal.message]
        return _page("admin/magnets/new.html", refusal.status, form=form)
    except IntegrityError:
        db.session.rollback()
        form.slug.errors = [_("A magnet with this address exists already.")]
        return _page("admin/magnets/new.html", 409, form=form)
    flash(_("The magnet was saved."))
    return redirect(url_for(".edit", slug=magnet.slug), 303)


@bp.route("/<slug>", methods=["GET", "POST"])
def edit(slug: str) -> ResponseReturnValue:
    magnet = _magnet(slug)
    form = DetailsForm(obj=magnet)
    if form.validate_on_submit():
        _apply(form, magnet)
        db.session.commit()
        flash(_("The changes were saved."))
        return redirect(url_for(".edit", slug=magnet.slug), 303)
    return _edit_page(magnet, details=form, status=422 if form.is_submitted() else 200)


@bp.post("/<slug>/file")
@csrf.exempt
def replace_file(slug: str) -> ResponseReturnValue:
    """A new version of the file; earlier versions stay in the history, links deliver this."""
    _accept_upload()
    magnet = _magnet(slug)
    form = FileForm()
    if not form.validate_on_submit():
        return _edit_page(magnet, file_form=form, status=422)
    try:
        _store(magnet, form.file.data, None)
        db.session.commit()
    except _Refusal as refusal:
        db.session.rollback()
        form.file.errors = [refusal.message]
        return _edit_page(_magnet(slug), file_form=form, status=refusal.status)
    flash(_("The file was replaced. Links already sent now deliver the new file."))
    return redirect(url_for(".edit", slug=slug), 303)


@bp.post("/<slug>/cover")
@csrf.exempt
def replace_cover(slug: str) -> ResponseReturnValue:
    _accept_upload()
    magnet = _magnet(slug)
    form = CoverForm()
    if not form.validate_on_submit():
        return _edit_page(magnet, cover_form=form, status=422)
    previous = magnet.cover_key
    try:
        _store(magnet, None, form.cover.data)
        db.session.commit()
    except _Refusal as refusal:
        db.session.rollback()
        form.cover.errors = [refusal.message]
        return _edit_page(_magnet(slug), cover_form=form, status=refusal.status)
    if previous:
        _delete_quietly(previous)
    flash(_("The cover was replaced."))
    return redirect(url_for(".edit", slug=slug), 303)


@bp.post("/<slug>/<any(publish, archive, revoke):action>")
def act(slug: str, action: str) -> ResponseReturnValue:
    magnet = _magnet(slug)
    if not ActionForm().validate_on_submit():
        return _edit_page(magnet, status=400)
    if action == "publish":
        try:
            magnet.publish()
        except MagnetError as error:
            flash(str(error))
            return _edit_page(magnet, status=409)
        flash(_("The magnet is published."))
    elif action == "archive":
        magnet.archive()
        flash(_("The magnet is archived: its page and all its links answer “gone”."))
    else:
        result = db.session.execute(
            sa.update(DownloadGrant)
            .where(DownloadGrant.magnet_id == magnet.id, DownloadGrant.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_by=_actor())
        )
        revoked = cast("sa.CursorResult[Any]", result).rowcount  # an UPDATE's result has it
        flash(_("%(count)s links were revoked.", count=revoked))
    db.session.commit()
    return redirect(url_for(".edit", slug=slug), 303)


class _Refusal(Exception):
    def __init__(self, field: str, message: str, status: int):
        self.field, self.message, self.status = field, message, status


def _store(magnet: Magnet, file: FileStorage | None, cover: FileStorage | None) -> None:
    """Check every given upload, then store them; `_Refusal` leaves nothing behind."""
    db.session.flush()
    uploads = [(name, upload, purpose) for name, upload, purpose in (
        ("file", file, Purpose.MAGNET), ("cover", cover, Purpose.COVER)
    ) if upload is not None and upload.filename]  # fmt: skip
    stored: list[str] = []
    try:
        for field, upload, purpose in uploads:
            try:
                with receive(upload.stream, upload.filename, purpose) as received:
                    if purpose is Purpose.MAGNET:
                        stored.append(store_file(magnet, received, _actor()).storage_key)
                    else:
                        store_cover(magnet, received)
                        stored.append(magnet.cover_key or "")
            except Refused as refused:
                raise _Refusal(field, refused.message, refused.status) from None
            except StorageUnavailable as exc:
                log.warning("upload for %s not stored: %s", magnet.slug, exc)
                message = _("The file store is unavailable; nothing was saved. Try again.")
                raise _Refusal(field, message, 503) from None
    except _Refusal:
        for key in stored:  # a later upload was refused: take out what went in before it
            _delete_quietly(key)
        raise


def _delete_quietly(key: str) -> None:
    try:
        storage().delete(key)
    except StorageUnavailable as exc:
        log.warning("could not delete %s: %s", key, exc)


def _apply(form: DetailsForm, magnet: Magnet) -> None:
    magnet.title = form.title.data.strip()
    magnet.headline = (form.headline.data or "").strip() or None
    magnet.description = form.description.data or ""
    magnet.kind = form.kind.data
    magnet.language = form.language.data
    magnet.link_lifetime_days = form.link_lifetime_days.data
    magnet.noindex = bool(form.noindex.data)


def _page(template: str, status: int, **context: Any) -> ResponseReturnValue:
    return render_template(template, **context), status


def _edit_page(
    magnet: Magnet,
    details: FlaskForm | None = None,
    file_form: FlaskForm | None = None,
    cover_form: FlaskForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    gating = db.session.scalars(
        sa.select(FormDefinition).where(FormDefinition.magnet == magnet.slug)
    ).all()
    return _page(
        "admin/magnets/edit.html",
        status,
        magnet=magnet,
        details=details or DetailsForm(obj=magnet, formdata=None),
        file_form=file_form or FileForm(formdata=None),
        cover_form=cover_form or CoverForm(formdata=None),
        action=ActionForm(formdata=None),
        downloads=download_counts().get(magnet.id, 0),
        links=grant_counts().get(magnet.id, 0),
        gating=gating,
        **landing_context(magnet),
    )
