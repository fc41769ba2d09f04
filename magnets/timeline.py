"""The lead's downloads on its back-office timeline (a provider for `capture.backoffice`)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from capture.backoffice.timeline import Event
from capture.base.db import db
from capture.leads.lead import Lead
from magnets.grants import Download, DownloadGrant
from magnets.magnet import Magnet, MagnetFile
from magnets.nurture import NurtureSend


def downloads(lead: Lead) -> list[Event]:
    """One event per download, in one query. How the link was issued (with the answer, after a
    confirmation, as a fresh link, from the back office) is what is recorded; whether it was
    opened from the e-mail or the page is not."""
    rows = db.session.execute(
        sa.select(Download.created_at, Magnet.title, Magnet.slug, DownloadGrant.source)
        .add_columns(MagnetFile.original_name)
        .join(Magnet, Magnet.id == Download.magnet_id)
        .join(DownloadGrant, DownloadGrant.id == Download.grant_id)
        .outerjoin(MagnetFile, MagnetFile.id == Download.file_id)
        .where(Download.lead_id == lead.id)
    )
    return [
        Event(
            at,
            "download",
            _("Download of %(magnet)s", magnet=title),
            (("magnet", slug), ("link", source), ("file", name)),
        )
        for at, title, slug, source, name in rows
    ]


def follow_ups(lead: Lead) -> list[Event]:
    """One event per nurture follow-up queued to the lead."""
    rows = db.session.execute(
        sa.select(NurtureSend.created_at, Magnet.title, Magnet.slug, NurtureSend.language)
        .join(Magnet, Magnet.id == NurtureSend.magnet_id)
        .where(NurtureSend.lead_id == lead.id)
    )
    return [
        Event(
            at,
            "nurture",
            _("Follow-up e-mail after %(magnet)s", magnet=title),
            (("magnet", slug), ("language", language)),
        )
        for at, title, slug, language in rows
    ]
