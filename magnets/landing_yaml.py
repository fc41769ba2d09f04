"""A landing page's copy as YAML: `leadgate magnets landing-export SLUG` and
`leadgate magnets landing-import FILE`, so translations can live in a repository and be
reviewed like form definitions.

```yaml
slug: lead-scoring-guide
headline: Giv salg de rigtige leads     # the page in the magnet's own language
body: |
  Hvilke leads er klar til salg ...
texts:                                   # other languages; cover alt and button per language
  sv: {headline: ..., body: ..., cover_alt: ..., button: ...}
  en: {headline: ...}
```
Keys left out are left alone; `texts` replaces the page's texts as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from flask.cli import with_appcontext

from capture.base import safeyaml
from capture.base.db import db
from capture.web.i18n import LANGUAGES
from magnets.cli import fail
from magnets.copy import LIMITS
from magnets.magnet import Magnet, get_magnet
from magnets.variants import TEXT_KEYS


def landing_document(magnet: Magnet) -> dict[str, Any]:
    return {
        "slug": magnet.slug,
        "language": magnet.language,
        "headline": magnet.headline or magnet.title,
        "body": magnet.description,
        "texts": {lang: dict(v) for lang, v in (magnet.texts or {}).items() if v},
    }


def read_landing(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The changes a document asks for, and every problem in it (by path)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return {}, ["document: must be a mapping"]
    for key in sorted(set(raw) - {"slug", "language", "headline", "body", "texts"}):
        problems.append(f"{key}: unknown key")
    changes: dict[str, Any] = {}
    for key, limit in (("headline", LIMITS["headline"]), ("body", LIMITS["body"])):
        if key in raw:
            value = raw[key]
            if not isinstance(value, str) or len(value) > limit:
                problems.append(f"{key}: must be a text of at most {limit} characters")
            else:
                changes[key] = value.strip()
    texts = raw.get("texts", {})
    if not isinstance(texts, dict):
        problems.append("texts: must map a language to its texts")
        texts = {}
    cleaned: dict[str, dict[str, str]] = {}
    for language, values in texts.items():
        if language not in LANGUAGES:
            problems.append(f"texts.{language}: unknown language (use {', '.join(LANGUAGES)})")
            continue
        if not isinstance(values, dict):
            problems.append(f"texts.{language}: must map {', '.join(TEXT_KEYS)} to texts")
            continue
        for key, value in values.items():
            path = f"texts.{language}.{key}"
            if key not in TEXT_KEYS:
                problems.append(f"{path}: unknown key (use {', '.join(TEXT_KEYS)})")
            elif not isinstance(value, str) or not value.strip() or len(value) > LIMITS[key]:
                problems.append(f"{path}: must be a text of 1-{LIMITS[key]} characters")
            else:
                cleaned.setdefault(language, {})[key] = value.strip()
    if "texts" in raw:
        changes["texts"] = cleaned
    return changes, problems


@click.command("landing-export")
@with_appcontext
@click.argument("slug")
def landing_export(slug: str) -> None:
    """Print a landing page's copy in every language as YAML."""
    magnet = get_magnet(slug)
    if magnet is None:
        fail(f"no magnet with slug {slug!r}")
    document = landing_document(magnet)
    click.echo(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), nl=False)


@click.command("landing-import")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def landing_import(file: Path) -> None:
    """Set a landing page's copy from YAML (as landing-export prints it)."""
    try:
        raw = safeyaml.load_file(file)
    except safeyaml.Unreadable as exc:
        fail(f"{file}: {exc}")
    slug = raw.get("slug") if isinstance(raw, dict) else None
    magnet = get_magnet(slug) if isinstance(slug, str) else None
    if magnet is None:
        fail(f"{file}: slug: no magnet with slug {slug!r}")
    changes, problems = read_landing(raw)
    if raw.get("language", magnet.language) != magnet.language:
        problems.append(f"language: the magnet's language is {magnet.language}")
    if problems:
        fail("\n".join(f"{file}: {problem}" for problem in problems))
    if "headline" in changes:
        magnet.headline = changes["headline"] or None
    if "body" in changes:
        magnet.description = changes["body"]
    if "texts" in changes:
        magnet.texts = changes["texts"]
    db.session.commit()
    click.echo(f"{magnet.slug} updated")
