"""Partners: the CLI, attribution from the verified origin only, first and last touch."""

from __future__ import annotations

import sqlalchemy as sa

from capture.base.db import db
from capture.forms.partners import Partner
from capture.leads.lead import Lead
from capture.submissions.submission import Submission

ACME = "https://www.acme.example"
BETA = "https://blog.beta.example"


def add(runner, *args):
    return runner.invoke(args=["partners", "add", *args])


def test_partners_add_and_list(runner, app):
    result = add(runner, "acme", "--name", "Acme A/S", "--origin", "https://WWW.acme.example:443/")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "acme"
    add(runner, "beta", "--name", "Beta", "--origin", BETA, "--origin", "https://beta.example")
    listing = runner.invoke(args=["partners", "list"]).stdout.splitlines()
    assert listing == [
        f"acme\tAcme A/S\t{ACME}",
        f"beta\tBeta\thttps://beta.example {BETA}",
    ]


def test_partners_add_refuses_bad_input(app_context, runner, app):
    assert add(runner, "acme", "--name", "Acme", "--origin", ACME).exit_code == 0
    for args, problem in [
        (("acme", "--name", "Again"), "exists already"),
        (("other", "--name", "Other", "--origin", ACME), "belongs to partner 'acme'"),
        (("bad", "--name", "Bad", "--origin", "https://x.example/path"), "is not an origin"),
        (("Not A Slug", "--name", "Bad"), "is not a slug"),
    ]:
        result = add(runner, *args)
        assert result.exit_code == 1
        assert problem in result.stderr
        assert result.stdout == ""
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Partner)) == 1


def test_submission_is_attributed_from_the_verified_origin_only(
    app_context, runner, make_form, submit
):
    add(runner, "acme", "--name", "Acme", "--origin", ACME)
    make_form(slug="guide", allowed_origins=[ACME, BETA])
    # The page claims another partner in its context: ignored, the Origin decides.
    response = submit(
        "guide",
        {"email": "ane@firma.dk"},
        context={"partner": "beta", "utm_source": "acme-news"},
        headers={"Origin": ACME},
    )
    assert response.status_code == 201
    lead = db.session.scalar(sa.select(Lead))
    assert lead.partner == "acme"
    assert lead.first_touch["partner"] == "acme"
    assert db.session.scalar(sa.select(Submission.partner)) == "acme"


def test_allowed_origin_without_partner_falls_back_to_the_forms_partner(
    app_context, make_form, submit
):
    make_form(slug="guide", allowed_origins=[BETA], partner="house")
    assert submit("guide", {"email": "a@b.dk"}, headers={"Origin": BETA}).status_code == 201
    assert submit("guide", {"email": "c@d.dk"}).status_code == 201  # no Origin: the API
    partners = db.session.scalars(sa.select(Lead.partner).order_by(Lead.email)).all()
    assert partners == ["house", "house"]


def test_partner_origin_not_allowed_on_the_form_is_refused(app_context, runner, make_form, submit):
    add(runner, "acme", "--name", "Acme", "--origin", ACME)
    make_form(slug="guide", allowed_origins=[BETA])
    response = submit("guide", {"email": "ane@firma.dk"}, headers={"Origin": ACME})
    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0


def test_lead_keeps_first_and_last_touch(app_context, runner, make_form, submit):
    add(runner, "acme", "--name", "Acme", "--origin", ACME)
    add(runner, "beta", "--name", "Beta", "--origin", BETA)
    make_form(slug="guide", allowed_origins=[ACME, BETA])
    first = {
        "utm_source": "acme-news",
        "utm_campaign": "spring",
        "referrer": "https://www.google.com/",
        "page_url": f"{ACME}/guide?utm_source=acme-news",
    }
    last = {"utm_source": "beta-blog", "utm_medium": "cpc", "page_url": f"{BETA}/post"}
    submit("guide", {"email": "ane@firma.dk"}, context=first, headers={"Origin": ACME})
    submit("guide", {"email": "ane@firma.dk"}, context=last, headers={"Origin": BETA})
    db.session.expire_all()
    lead = db.session.scalar(sa.select(Lead))
    assert lead.partner == "acme"
    assert {k: lead.first_touch[k] for k in (*first, "partner")} == {**first, "partner": "acme"}
    assert {k: lead.last_touch[k] for k in (*last, "partner")} == {**last, "partner": "beta"}
    assert "utm_campaign" not in lead.last_touch
