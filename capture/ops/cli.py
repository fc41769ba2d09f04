"""Command-line tools for forms: `leadgate forms import FILE` and `leadgate forms export SLUG`."""

from __future__ import annotations

from pathlib import Path

import click
import yaml
from flask import Flask
from flask.cli import AppGroup

from capture.base import safeyaml
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.spec import DefinitionError
from capture.forms.store import get_form, save_spec
from capture.leads.scoring import kind_classes
from capture.ops import demo

forms_cli = AppGroup("forms", help="Import and export form definitions as YAML.")


@forms_cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def import_forms(files: tuple[Path, ...]) -> None:
    """Create or update forms from YAML files; an unchanged file changes nothing."""
    failed = False
    for path in files:
        try:
            spec = parse_definition(safeyaml.load_file(path), kind_classes())
        except safeyaml.Unreadable as exc:
            click.echo(f"{path}: {exc}", err=True)
            failed = True
            continue
        except DefinitionError as exc:
            for problem in exc.problems:
                click.echo(f"{path}: {problem}", err=True)
            failed = True
            continue
        form, outcome = save_spec(spec)
        db.session.commit()
        click.echo(f"{form.slug} {outcome} (version {form.version})")
    if failed:
        raise SystemExit(1)


@forms_cli.command("export")
@click.argument("slug")
def export_form(slug: str) -> None:
    """Print a form's definition as YAML, ready to edit and import again."""
    form = get_form(slug)
    if form is None:
        click.echo(f"no form with slug {slug!r}", err=True)
        raise SystemExit(1)
    click.echo(
        yaml.safe_dump(form.spec.to_document(), allow_unicode=True, sort_keys=False), nl=False
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(forms_cli)
    app.cli.add_command(demo.demo_command)
    if app.config["LEADGATE_ENV"] != "production":
        app.register_blueprint(demo.bp)  # the demo partner's page; never in production
