"""E-mails that carry download links: the magnet itself, and a fresh link for an expired one.

Both go through the outbox in the caller's transaction, to the address on file only. The
person asked for them, so they carry no offers; like every e-mail to a lead they carry the
unsubscribe link and its one-click headers (`enqueue_lead_email`).
"""

from __future__ import annotations

from capture.delivery.optin import enqueue_lead_email
from capture.delivery.outbox import OutboxMessage
from magnets.grants import DownloadGrant


def _context(grant: DownloadGrant, url: str | None = None) -> dict[str, object]:
    return {
        "title": grant.magnet.title,
        "download_url": url or grant.url,
        "first_name": grant.lead.first_name,
        "valid_days": grant.magnet.link_lifetime_days,
    }


def send_magnet(grant: DownloadGrant, url: str | None = None) -> OutboxMessage:
    """Queue the e-mail with the download link; once per grant, however often it is asked.

    `url`: the link as the answer already shows it (a token is signed with its second, so
    signing again could give the person two different links to one grant)."""
    return enqueue_lead_email(
        grant.lead,
        "magnet",
        grant.language,
        _context(grant, url),
        dedupe_key=f"magnet:{grant.public_id}",
    )


def send_fresh_link(grant: DownloadGrant) -> OutboxMessage:
    """Queue a fresh link (`grant` is the new one) after an expired link asked for it."""
    return enqueue_lead_email(
        grant.lead,
        "fresh_link",
        grant.language,
        _context(grant),
        dedupe_key=f"fresh-link:{grant.public_id}",
    )
