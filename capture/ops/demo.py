"""`leadgate demo`: fill an empty database with a working example to click through."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import Blueprint, current_app, make_response, render_template
from flask.cli import with_appcontext
from flask.typing import ResponseReturnValue

from capture import extension_points
from capture.accounts.user import Role, create_user
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.partners import add_partner
from capture.forms.store import FormDefinition, get_form, save_spec
from capture.routing.demo import demo_routing

PROCESSING = {
    "da": "Vi skal bruge dine kontaktoplysninger for at kontakte dig om vores produkter og "
    "tjenester. Du kan til enhver tid framelde dig. Se vores privatlivspolitik.",
    "sv": "Vi behöver dina kontaktuppgifter för att kontakta dig om våra produkter och "
    "tjänster. Du kan när som helst avregistrera dig. Se vår integritetspolicy.",
    "en": "We need your contact details to contact you about our products and services. "
    "You can opt out at any time. See our privacy policy.",
}
MARKETING = {
    "da": "Ja tak, send mig nyhedsbreve og tilbud på e-mail.",
    "sv": "Ja tack, skicka mig nyhetsbrev och erbjudanden via e-post.",
    "en": "Yes, send me newsletters and offers by e-mail.",
}
CONTACTED = {
    "da": "Tak for din henvendelse, vi kontakter dig hurtigst muligt!",
    "sv": "Tack för din förfrågan, vi kontaktar dig så snart som möjligt!",
    "en": "Thanks for your request, we will contact you as soon as possible!",
}
UTM = [{"name": n, "type": "hidden", "source": "query"} for n in ("utm_source", "utm_campaign")]

DEMO_FORMS: list[dict[str, Any]] = [
    {
        "slug": "newsletter",
        "name": "Nyhedsbrev",
        "title": {"da": "Nyhedsbrev", "sv": "Nyhetsbrev", "en": "Newsletter"},
        "conversion": "newsletter_signup",
        "language": "da",
        "fields": [
            {"name": "email", "type": "email", "required": True},
            {
                "name": "first_name",
                "type": "text",
                "label": {"da": "Fornavn", "sv": "Förnamn", "en": "First name"},
            },
        ],
        "consents": [
            {"purpose": "processing", "required": True, "text": PROCESSING},
            {"purpose": "marketing", "required": False, "text": MARKETING},
        ],
        "success": {
            "message": {
                "da": "Tak for din tilmelding!",
                "sv": "Tack för din anmälan!",
                "en": "Thanks for signing up!",
            }
        },
    },
    {
        "slug": "ebook-lead-scoring",
        "name": "E-bog: guiden til lead scoring",
        # The landing page's form heading, and the hosted form's title.
        "title": {
            "da": "Hent e-bogen gratis",
            "sv": "Hämta e-boken gratis",
            "en": "Get the e-book for free",
        },
        "conversion": "ebook_download",
        "language": "da",
        "magnet": "lead-scoring-guide",
        "email_magnet": True,
        "fields": [
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text", "required": True},
            {"name": "company", "type": "text"},
            {
                "name": "company_size",
                "type": "select",
                "options": ["1-10", "11-50", "51-200", "201+"],
            },
        ],
        "consents": [
            {"purpose": "processing", "required": True, "text": PROCESSING},
            {"purpose": "marketing", "required": False, "text": MARKETING},
        ],
        "success": {
            "message": {
                "da": "Tak! Din e-bog er klar til download.",
                "sv": "Tack! Din e-bok är redo att laddas ner.",
                "en": "Thanks! Your e-book is ready to download.",
            },
            # The thank-you page's next step: from reading about leads to talking to sales.
            "next": {
                "url": "/f/contact?lang=da",
                "label": {
                    "da": "Vil du se det i praksis? Book en demo",
                    "sv": "Vill du se det i praktiken? Boka en demo",
                    "en": "Want to see it in practice? Book a demo",
                },
            },
        },
    },
    {
        "slug": "contact",
        "name": "Contact sales",
        "title": {"da": "Kontakt salg", "sv": "Kontakta säljarna", "en": "Contact sales"},
        "conversion": "contact_request",
        "language": "en",
        "fields": [
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text", "required": True},
            {"name": "last_name", "type": "text"},
            {"name": "company", "type": "text", "required": True},
            {"name": "job_title", "type": "text"},
            {"name": "phone", "type": "tel"},
            {"name": "country", "type": "country"},  # routes the SQL (capture.routing.demo)
            {
                "name": "budget",
                "type": "select",
                "label": {"da": "Budget", "sv": "Budget", "en": "Budget"},
                "options": [
                    "< 50k DKK",
                    "50k-250k DKK",
                    "> 250k DKK",
                    {
                        "value": "Not decided",
                        "label": {
                            "da": "Ikke besluttet",
                            "sv": "Inte bestämt",
                            "en": "Not decided",
                        },
                    },
                ],
            },
            {
                "name": "authority",
                "type": "radio",
                "options": [
                    {
                        "value": "decision_maker",
                        "label": {"da": "Jeg beslutter", "sv": "Jag beslutar", "en": "I decide"},
                    },
                    {
                        "value": "influencer",
                        "label": {
                            "da": "Jeg anbefaler",
                            "sv": "Jag rekommenderar",
                            "en": "I recommend",
                        },
                    },
                ],
            },
            {"name": "need", "type": "textarea"},
            {
                "name": "timeline",
                "type": "select",
                "options": [
                    {
                        "value": "This quarter",
                        "label": {
                            "da": "Dette kvartal",
                            "sv": "Detta kvartal",
                            "en": "This quarter",
                        },
                    },
                    {
                        "value": "This year",
                        "label": {"da": "I år", "sv": "I år", "en": "This year"},
                    },
                    {"value": "Later", "label": {"da": "Senere", "sv": "Senare", "en": "Later"}},
                ],
            },
        ],
        "consents": [{"purpose": "processing", "required": True, "text": PROCESSING}],
        "success": {"message": CONTACTED},
    },
]


def base_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"


def partner_origin(base: str) -> str | None:
    """The demo partner's site: this server under its other loopback name, another origin."""
    parts = urlsplit(base)
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(parts.hostname or "")
    if other is None:
        return None
    return f"{parts.scheme}://{other}" + (f":{parts.port}" if parts.port else "")


def fill_partner() -> list[str]:
    """A partner whose site embeds the newsletter and e-book forms (served by /demo/partner)."""
    origin = partner_origin(base_url())
    if origin is None:
        return []
    add_partner("partner-example", "Partner Example", [origin])
    for slug in ("newsletter", "ebook-lead-scoring"):
        form = get_form(slug)
        if form is not None:
            spec = form.spec
            save_spec(replace(spec, allowed_origins=(*spec.allowed_origins, origin)))
    query = "utm_source=partner-example&utm_medium=referral&utm_campaign=demo"
    return [f"Partner page (another origin):  {origin}/demo/partner?{query}"]


bp = Blueprint("demo", __name__)


@bp.get("/demo/partner")
def partner_page() -> ResponseReturnValue:
    """Plays the partner's own web page, which embeds our forms from the app's origin.

    A real partner page has its own policies, not ours: it gets a plain one that lets our
    script in, as a partner's would.
    """
    app_base = base_url()
    response = make_response(render_template("demo/partner.html", app_base=app_base))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {app_base}; connect-src {app_base}; "
        f"img-src 'self' {app_base} data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    )
    return response


DEMO_ADMIN_EMAIL = "admin@example.com"


def demo_admin() -> list[str]:
    """The demo's only account, with a random password printed once: no default accounts."""
    password = secrets.token_urlsafe(12)
    create_user(DEMO_ADMIN_EMAIL, Role.ADMIN, password)
    return [
        f"Back office:                    {base_url()}/admin/",
        f"  admin login: {DEMO_ADMIN_EMAIL}  password: {password}",
    ]


def fill_forms() -> list[str]:
    for document in DEMO_FORMS:
        save_spec(parse_definition(document))
    base = base_url()
    return [
        f"Newsletter form (MQL, Danish):  {base}/f/newsletter",
        f"E-book form (MQL, Danish):      {base}/f/ebook-lead-scoring",
        f"Contact form (SQL, BANT, EN):   {base}/f/contact   (Danish: ?lang=da)",
    ]


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Fill an empty database with demo forms, a magnet, a partner page and an admin."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(FormDefinition)):
        click.echo("The database already has forms; the demo only fills an empty one.", err=True)
        return
    lines = fill_forms()
    lines.extend(fill_partner())
    lines.extend(demo_admin())
    lines.extend(demo_routing())
    # Sorted: receivers come in no order, the printed lines should not.
    for added in sorted(extension_points.demo_filling.send(None)):
        lines.extend(added)
    db.session.commit()
    click.echo("Demo data is ready. Open:")
    for line in lines:
        click.echo(f"  {line}")
