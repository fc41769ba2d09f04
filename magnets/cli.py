"""`leadgate magnets upload FILE --title ... --kind ebook [--slug SLUG] [--publish]`.

Prints the new magnet's slug on stdout and nothing else, so scripts can capture it; every
problem goes to stderr with a non-zero exit, and a refused file leaves nothing behind.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from capture.base.db import db
from capture.web.i18n import LANGUAGES
from magnets.filetypes import Purpose, Refused
from magnets.magnet import (
    DEFAULT_LINK_LIFETIME_DAYS,
    Magnet,
    MagnetKind,
    check_fields,
    get_magnet,
    unique_slug,
)
from magnets.storage import StorageUnavailable
from magnets.uploads import Received, receive, store_cover, store_file

magnets_cli = AppGroup("magnets", help="Lead magnets: upload files to give away behind forms.")
FilePath = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def fail(message: str) -> NoReturn:
    db.session.rollback()
    click.echo(message, err=True)
    raise SystemExit(1)


def _receive(stack: ExitStack, path: Path, purpose: Purpose) -> Received:
    stream = stack.enter_context(path.open("rb"))
    try:
        return stack.enter_context(receive(stream, path.name, purpose))
    except Refused as refused:
        fail(f"{path}: {refused.message}")


@magnets_cli.command("upload")
@click.argument("file", type=FilePath)
@click.option("--title", required=True, help="Shown on the landing page and in e-mails.")
@click.option("--kind", required=True, type=click.Choice([k.value for k in MagnetKind]))
@click.option("--slug", help="URL name (/p/<slug>); made from the title when left out.")
@click.option("--publish", is_flag=True, help="Publish at once (links work, page is live).")
@click.option("--language", default="en", show_default=True, type=click.Choice(LANGUAGES))
@click.option("--description", default="", help="Landing page text, in Markdown.")
@click.option("--headline", help="Landing page headline; the title when left out.")
@click.option("--cover", type=FilePath, help="Cover image: PNG, JPEG or WebP.")
@click.option("--link-lifetime-days", default=DEFAULT_LINK_LIFETIME_DAYS, show_default=True)
def upload(
    file: Path,
    title: str,
    kind: str,
    slug: str | None,
    publish: bool,
    language: str,
    description: str,
    headline: str | None,
    cover: Path | None,
    link_lifetime_days: int,
) -> None:
    """Upload FILE as a new magnet and print its slug."""
    with force_locale("en"):  # no request to take a language from
        _upload(
            file,
            title,
            kind,
            slug,
            publish,
            language,
            description,
            headline,
            cover,
            link_lifetime_days,
        )


def _upload(
    file: Path,
    title: str,
    kind: str,
    slug: str | None,
    publish: bool,
    language: str,
    description: str,
    headline: str | None,
    cover: Path | None,
    link_lifetime_days: int,
) -> None:
    slug = slug or unique_slug(title)
    problems = check_fields(slug, title, kind, language, link_lifetime_days)
    if problems:
        fail("\n".join(f"--{name.replace('_', '-')}: {text}" for name, text in problems.items()))
    if get_magnet(slug) is not None:
        fail(f"--slug: a magnet with slug {slug!r} already exists.")
    magnet = Magnet(
        slug=slug,
        title=title.strip(),
        kind=kind,
        language=language,
        description=description,
        headline=headline,
        link_lifetime_days=link_lifetime_days,
    )
    with ExitStack() as stack:
        # Check both files before storing either, so a bad cover stores nothing.
        received = _receive(stack, file, Purpose.MAGNET)
        cover_received = _receive(stack, cover, Purpose.COVER) if cover else None
        db.session.add(magnet)
        try:
            db.session.flush()
            store_file(magnet, received, uploaded_by="cli")
            if cover_received is not None:
                store_cover(magnet, cover_received)
        except StorageUnavailable as exc:
            fail(f"storage unavailable, nothing was saved: {exc}")
    if publish:
        magnet.publish()
    db.session.commit()
    click.echo(magnet.slug)
