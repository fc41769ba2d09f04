"""Forms in the back office: counts, create and edit (YAML errors by path), preview, embed code."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa
from helpers import csrf_token_in

from capture.base.db import db
from capture.forms.store import FormDefinition, get_form

YAML = """\
fields:
  - name: email
    type: email
    required: true
  - name: company
    type: text
consents:
  - purpose: processing
    required: true
    text:
      en: We process your data.
success:
  message:
    en: Thanks!
  redirect: null
"""


def settings(token: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "slug": "spring-webinar",
        "name": "Spring <webinar>",
        "conversion": "webinar_registration",
        "language": "da",
        "status": "active",
        "magnet": "",
        "partner": "",
        "allowed_origins": "https://www.firma.dk\n",
        "body": YAML,
    }
    data.update(changes)
    return data


def test_create_then_edit_bumps_the_version(app_context, staff):
    marketer = staff("marketer")
    token = csrf_token_in(marketer.get("/admin/forms/new").get_data(as_text=True))
    created = marketer.post("/admin/forms/new", data=settings(token))
    assert (
        created.status_code == 303 and created.headers["Location"] == "/admin/forms/spring-webinar"
    )
    form = get_form("spring-webinar")
    assert (form.version, form.language, form.spec.allowed_origins) == (
        1,
        "da",
        ("https://www.firma.dk",),
    )
    assert [f.name for f in form.spec.fields] == ["email", "company"]

    page = marketer.get("/admin/forms/spring-webinar/edit").get_data(as_text=True)
    assert "company" in page and "https://www.firma.dk" in page
    edited = marketer.post(
        "/admin/forms/spring-webinar/edit",
        data=settings(token, name="Spring webinar 2", double_opt_in="y", slug="hijack"),
    )
    assert edited.status_code == 303
    db.session.expire_all()
    form = get_form("spring-webinar")
    assert (form.version, form.name, form.spec.double_opt_in) == (2, "Spring webinar 2", True)
    assert get_form("hijack") is None  # the slug never changes once published
    listing = marketer.get("/admin/forms/").get_data(as_text=True)
    assert "Spring webinar 2" in listing


def test_saving_in_the_editor_keeps_keys_it_has_no_input_for(app_context, staff, make_form):
    make_form(slug="get-it", magnet="guide", email_magnet=True)
    marketer = staff("marketer")
    page = marketer.get("/admin/forms/get-it/edit").get_data(as_text=True)
    assert "email_magnet: true" in page
    body = page.split('name="body"')[1].split(">", 1)[1].split("</textarea>")[0]
    data = settings(csrf_token_in(page), slug="get-it", magnet="guide", body=unescape(body))
    assert marketer.post("/admin/forms/get-it/edit", data=data).status_code == 303
    db.session.expire_all()
    assert get_form("get-it").document["email_magnet"] is True


def test_problems_are_shown_by_path_and_nothing_is_saved(app_context, staff):
    marketer = staff("marketer")
    token = csrf_token_in(marketer.get("/admin/forms/new").get_data(as_text=True))
    broken = YAML.replace("type: text", "type: hologram")
    answer = marketer.post("/admin/forms/new", data=settings(token, body=broken))
    assert answer.status_code == 422
    assert "fields[1].type" in answer.get_data(as_text=True)
    answer = marketer.post("/admin/forms/new", data=settings(token, body="fields: [oops"))
    assert answer.status_code == 422 and "not valid YAML" in answer.get_data(as_text=True)
    answer = marketer.post("/admin/forms/new", data=settings(token, body=YAML + "slug: x\n"))
    assert answer.status_code == 422 and "slug: set this above" in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FormDefinition)) == 0


def test_duplicate_slug_is_refused(staff, make_form):
    make_form(slug="spring-webinar")
    marketer = staff("marketer")
    token = csrf_token_in(marketer.get("/admin/forms/new").get_data(as_text=True))
    answer = marketer.post("/admin/forms/new", data=settings(token))
    assert answer.status_code == 422 and "already has this slug" in answer.get_data(as_text=True)


def test_list_counts_submissions(staff, make_form, submit):
    make_form()
    submit("test-form", {"email": "a@firma.dk"})
    submit("test-form", {"email": "b@firma.dk"})
    submit("test-form", {"email": "c@firma.dk", "homepage_url": "spam"})
    html = staff("marketer").get("/admin/forms/").get_data(as_text=True)
    row = html[html.index("Test form") :].split("</tr>")[0]
    assert '<td class="num">2</td><td class="num">1</td>' in row


def test_preview_and_embed_code(staff, make_form):
    make_form(name='Guide "<b>bold</b>"')
    html = staff("marketer").get("/admin/forms/test-form").get_data(as_text=True)
    assert "<fieldset disabled>" in html and 'name="email"' in html  # drawn here, not framed
    assert "&lt;div data-leadgate-form=&#34;test-form&#34; data-lang=&#34;en&#34;&gt;" in html
    assert "/embed.js" in html and "/f/test-form?embed=1" in html
    assert "<b>bold</b>" not in html
    assert 'src="/static/copy.js"' in html and "nonce=" in html
    assert staff("marketer").get("/admin/forms/nope").status_code == 404
    assert staff("sales").get("/admin/forms/").status_code == 403
