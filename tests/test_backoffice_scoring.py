"""Admins change conversion kinds and scoring rules in the back office: CSRF, the configuration
file's messages, a preview before a save, a history, labels in the page's language."""

import html
import re
from collections import Counter

import pytest
import sqlalchemy as sa
import yaml
from bs4 import BeautifulSoup
from helpers import csrf_token_in

from capture.base.db import db
from capture.leads.lead import Lead
from capture.leads.scoring import ScoringVersion
from wsgi import create_app

PAGE = "/admin/settings/scoring/"
TRADE_SHOW = {
    "kind": "trade_show_visit",
    "classification": "MQL",
    "points": "25",
    "label_da": "Messebesøg",
    "label_sv": "Mässbesök",
    "label_en": "Trade show visit",
    "max": "",
    "per": "",
}


@pytest.fixture
def second_app(app, app_config):
    """A second app on the same database, built before any change, as another server process
    would be (`app` first: it makes the tables)."""
    other = create_app(app_config)
    yield other
    with other.app_context():
        db.engine.dispose()


def form_token(page_html, action):
    """The CSRF token of the form posting to `action`."""
    form = re.search(
        rf'<form method="post" action="{re.escape(action)}".*?</form>', page_html, re.S
    )
    assert form, f"no form posting to {action}"
    return csrf_token_in(form[0])


def post_kind(admin, data):
    page = admin.get(PAGE).get_data(as_text=True)
    token = form_token(page, PAGE + "kinds")
    return admin.post(PAGE + "kinds", data=data | {"csrf_token": token})


def test_an_admin_adds_a_kind_and_events_take_it_without_a_restart(
    app_context, second_app, staff, client, api_token
):
    write = api_token("write")
    other = second_app
    body = {"email": "messe@firma.dk", "kind": "trade_show_visit"}
    assert other.test_client().post("/api/v1/events", json=body, headers=write).status_code == 422

    admin = staff("admin")
    saved = post_kind(admin, TRADE_SHOW)
    assert saved.status_code == 303
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Conversion kind trade_show_visit added. Version 2 is in force." in html.unescape(page)
    row = re.search(r"<tr>\s*<th scope=\"row\"><code>trade_show_visit</code>.*?</tr>", page, re.S)
    assert row and "Trade show visit" in row[0] and "MQL" in row[0] and ">25<" in row[0]

    for app_client in (client, other.test_client()):
        answer = app_client.post("/api/v1/events", json=body, headers=write)
        assert answer.status_code == 201, answer.get_json()
        assert answer.get_json()["conversion"] == {
            "kind": "trade_show_visit",
            "classification": "MQL",
        }
        assert answer.get_json()["lifecycle_stage"] == "mql"
    # The second event is a repeat within the new kind's default cap (once a day): 0 points.
    assert db.session.scalar(sa.select(Lead.score)) == 25

    # Labels in the page's language, in the kinds table and on the lead's timeline.
    danish = {"Accept-Language": "da"}
    kinds_page = html.unescape(admin.get(PAGE, headers=danish).get_data(as_text=True))
    assert "<td>Messebesøg</td>" in kinds_page and "<td>Nyhedsbrevstilmelding</td>" in kinds_page
    lead_id = db.session.scalar(sa.select(Lead.public_id))
    timeline = admin.get(f"/admin/leads/{lead_id}", headers=danish).get_data(as_text=True)
    assert "Messebesøg (MQL)" in html.unescape(timeline)
    swedish = admin.get(f"/admin/leads/{lead_id}", headers={"Accept-Language": "sv"})
    assert "Mässbesök (MQL)" in html.unescape(swedish.get_data(as_text=True))

    history = html.unescape(admin.get(PAGE).get_data(as_text=True))
    assert "seeded from the configuration" in history
    assert re.search(r"admin-[0-9a-f]+@firma\.dk</td><td>conversion kind trade_show_visit", history)


def test_a_bad_kind_shows_the_configuration_files_messages(app_context, staff):
    admin = staff("admin")
    answer = post_kind(
        admin, TRADE_SHOW | {"points": "many", "classification": "MQL", "label_en": ""}
    )
    assert answer.status_code == 422
    page = html.unescape(answer.get_data(as_text=True))
    assert "label.en: is required" in page
    answer = post_kind(admin, TRADE_SHOW | {"points": "many"})
    page = html.unescape(answer.get_data(as_text=True))
    assert "conversions.trade_show_visit.points: must be a whole number" in page
    answer = post_kind(admin, TRADE_SHOW | {"max": "2", "per": "often"})
    assert "conversions.trade_show_visit.per: a window like" in html.unescape(
        answer.get_data(as_text=True)
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoringVersion)) == 0


def test_a_post_without_its_csrf_token_changes_nothing(app_context, staff):
    admin = staff("admin")
    assert admin.post(PAGE + "kinds", data=TRADE_SHOW).status_code in (400, 422)
    assert admin.post(PAGE + "rules", data={"document": "{}", "action": "save"}).status_code in (
        400,
        422,
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoringVersion)) == 0


def test_rules_are_saved_only_after_their_effect_was_shown(app_context, staff, make_form, submit):
    make_form()
    submit("test-form", {"email": "a@firma.dk"})  # 10 points: cold
    admin = staff("admin")
    page = admin.get(PAGE).get_data(as_text=True)
    shown = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)[1])
    document = yaml.safe_load(shown)
    document["temperature"]["warm"] = 10
    text = yaml.safe_dump(document)
    token = form_token(page, PAGE + "rules")

    # "Save" without a preview of this very text only previews it.
    first = admin.post(
        PAGE + "rules", data={"document": text, "action": "save", "csrf_token": token}
    )
    assert first.status_code == 200
    preview = html.unescape(first.get_data(as_text=True))
    assert "What this change would do" in preview
    assert "1 change temperature when you save" in preview and "cold->warm 1" in preview
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoringVersion)) == 0
    previewed = re.search(r'name="previewed" type="hidden" value="([0-9a-f]+)"', preview)[1]

    saved = admin.post(
        PAGE + "rules",
        data={"document": text, "action": "save", "previewed": previewed, "csrf_token": token},
    )
    assert saved.status_code == 303
    assert db.session.scalar(sa.select(Lead.temperature)) == "warm"
    version = db.session.scalar(sa.select(ScoringVersion).order_by(ScoringVersion.id.desc()))
    assert (version.id, version.change, version.via) == (2, "rules edited", "back office")
    assert version.document["temperature"] == {"warm": 10, "hot": 70}
    shown = admin.get(f"{PAGE}versions/2").get_data(as_text=True)
    assert "warm: 10" in html.unescape(shown)
    assert admin.get(f"{PAGE}versions/9").status_code == 404


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("thresholds: {sql: lots}", "thresholds.sql: must be a whole number"),
        ("fit: [{field: shoe_size, values: [x], points: 1}]", "fit[0].field: one of"),
        ("colour: red", "colour: unknown setting"),
        ("thresholds: [", "not valid YAML (line 1"),
    ],
)
def test_bad_rules_show_the_configuration_files_messages(app_context, staff, text, problem):
    admin = staff("admin")
    token = form_token(admin.get(PAGE).get_data(as_text=True), PAGE + "rules")
    answer = admin.post(
        PAGE + "rules", data={"document": text, "action": "preview", "csrf_token": token}
    )
    assert answer.status_code == 422
    assert problem in html.unescape(answer.get_data(as_text=True))


def test_the_page_is_for_admins_only(staff):
    assert staff("marketer").get(PAGE).status_code == 403
    assert staff("sales").get(PAGE).status_code == 403
    assert staff(None).get(PAGE).status_code == 302


def test_the_page_repeats_no_id_and_labels_every_control(app_context, staff):
    admin = staff("admin")
    post_kind(admin, TRADE_SHOW)
    page = admin.get(PAGE).get_data(as_text=True)
    token = form_token(page, PAGE + "rules")
    preview = admin.post(PAGE + "rules", data={"document": "{}", "csrf_token": token})
    for text in (page, preview.get_data(as_text=True)):
        soup = BeautifulSoup(text, "html.parser")
        ids = Counter(tag["id"] for tag in soup.find_all(id=True))
        assert [name for name, count in ids.items() if count > 1] == []
        for control in soup.select("input:not([type=hidden]), select, textarea"):
            labelled = soup.find("label", attrs={"for": control.get("id")}) or control.find_parent(
                "label"
            )
            assert labelled, control
