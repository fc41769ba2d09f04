"""`make audit-ui`: Lighthouse, axe-core and the Nu HTML checker over a local demo instance.

Not part of CI (it needs Node, Java and a few hundred MB of npm packages in a cache dir, see the
Makefile). Starts `leadgate run` on a free loopback port with a throwaway SQLite database and
the demo data plus a few leads, then:

- Lighthouse 12 (mobile, its default) on a hosted form and a magnet's landing page;
- axe-core (every rule but the experimental ones) in Chromium on every public and back-office
  page, logged in for the back office;
- vnu (the Nu HTML checker) on the HTML the server sent for the same pages.

Prints one summary line per page and exits 1 when anything is below the bar. With
`--screenshots DIR` it also writes the screenshots of docs/screenshots/ (390 and 1280 px).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
ADMIN = "audit@example.com"
BARS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 95}
# Pages for the screenshots: (name, path or key found at run time).
SHOTS = (
    ("dashboard", "/admin/"),
    ("leads", "/admin/leads/"),
    ("lead", "{lead}"),
    ("forms", "/admin/forms/"),
    ("magnets", "/admin/magnets/"),
    ("hosted-form", "/f/ebook-lead-scoring"),
    ("thank-you", "{thanks}"),
    ("landing", "/p/lead-scoring-guide"),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def leadgate(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(BIN / "leadgate"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


@contextmanager
def demo_instance() -> Iterator[tuple[str, str, Path, str]]:
    """A demo instance on loopback; yields (base URL, admin password, SQLite file, key)."""
    workdir = Path(tempfile.mkdtemp(prefix="leadgate-audit-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'audit.sqlite3'}",
        "STORAGE_URL": (workdir / "magnets").as_uri(),
        "PUBLIC_BASE_URL": base,
        "LEADGATE_FORM_MIN_FILL_SECONDS": "0",
        "RATELIMIT_ENABLED": "0",
        "LEADGATE_DRAIN_OUTBOX_IN_PROCESS": "1",
        "SECRET_KEY": secrets.token_urlsafe(32),
    }
    password = secrets.token_urlsafe(16)
    leadgate(env, "db", "upgrade")
    leadgate(env, "demo")
    leadgate(env, "users", "create", ADMIN, "--role", "admin", stdin=password + "\n")
    server = subprocess.Popen(
        [str(BIN / "leadgate"), "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield base, password, workdir / "audit.sqlite3", env["SECRET_KEY"]
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def spread(database: Path) -> None:
    """Move the seeded conversions back over the last 50 days, so the trend line and the
    comparison with the period before show something (the API only records "now")."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE conversion_events SET occurred_at = "
            "strftime('%Y-%m-%d %H:%M:%f', occurred_at, '-' || ((id * 7) % 50) || ' days')"
        )


def ab_test(database: Path) -> None:
    """An A/B test on the demo magnet with some views, so the back office shows its results
    (the landing page then draws a variant per view, which the audit does not mind)."""
    challenger = {"da": {"headline": "Færre kolde leads til salg", "button": "Hent guiden"}}
    with sqlite3.connect(database) as connection:
        (magnet,) = connection.execute(
            "SELECT id FROM magnets WHERE slug = 'lead-scoring-guide'"
        ).fetchone()
        for key, is_control, texts in (("a", 1, {}), ("b", 0, challenger)):
            connection.execute(
                "INSERT INTO landing_variants (magnet_id, key, is_control, texts, status,"
                " created_at) VALUES (?, ?, ?, ?, 'active', datetime('now'))",
                (magnet, key, is_control, json.dumps(texts)),
            )
        for key, views in (("a", 412), ("b", 398)):
            connection.execute(  # the analytics counters, where the A/B results read views
                "INSERT INTO page_counts (day, digest, page, variant, views, starts)"
                " VALUES (date('now'), ?, 'lead-scoring-guide', ?, ?, 0)",
                (f"audit-{key}", key, views),
            )


def seed(base: str) -> str:
    """A few leads on every demo form, so tables and charts have something to show; returns
    the last lead's id."""
    people = [
        ("ane", "Ane", "Firma A/S"),
        ("bo", "Bo", "Nordisk ApS"),
        ("cecilie", "Cecilie", "Havn & Co"),
        ("dan", "Dan", "Dan Data"),
        ("eva", "Eva", "Eva Consulting"),
        ("frida", "Frida", "Fjord Logistik"),
        ("gustav", "Gustav", "Gustav & Søn"),
        ("hanne", "Hanne", "Hanne Design"),
    ]
    lead = ""
    for index, (user, first, company) in enumerate(people):
        for slug in ("newsletter", "ebook-lead-scoring", "contact"):
            with urllib.request.urlopen(f"{base}/api/v1/forms/{slug}", timeout=10) as response:
                form = json.load(response)
            fields: dict[str, Any] = {"email": f"{user}@firma{index}.dk"}
            for field in form.get("fields", []):
                name = field["name"]
                if name == "email" or field.get("type") == "hidden":
                    continue
                if field.get("options"):
                    first_option = field["options"][0]
                    fields[name] = first_option.get("value", first_option)
                elif field.get("type") == "checkbox":
                    fields[name] = True
                elif field.get("type") == "number":
                    fields[name] = 10
                elif name == "first_name":
                    fields[name] = first
                elif name == "company":
                    fields[name] = company
                elif field.get("required"):
                    fields[name] = "Lorem ipsum"
            consents = {c["purpose"]: True for c in form.get("consents", [])}
            lead = post_json(
                f"{base}/api/v1/forms/{slug}/submissions",
                {
                    "fields": fields,
                    "consents": consents,
                    "context": {
                        "utm_source": ["google", "linkedin", "newsletter"][index % 3],
                        # The landing page's A/B test (ab_test): b converts a little better.
                        **(
                            {"variant": "ab"[index % 3 > 0]} if slug == "ebook-lead-scoring" else {}
                        ),
                    },
                    "token": form["token"],
                },
            )["lead"]
    return str(lead)


def preference_page(key: str, lead: str) -> str:
    """The path of a lead's /u/ link: its token signed as the app signs it
    (capture.web.tokens, purpose `unsubscribe`)."""
    from itsdangerous import URLSafeTimedSerializer

    return "/u/" + URLSafeTimedSerializer([key], salt="leadgate.unsubscribe").dumps(lead)


def log_in(page: Any, base: str, password: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def thank_you(page: Any, base: str) -> str:
    """Send the hosted e-book form in the browser; returns the thank-you page's HTML."""
    page.goto(f"{base}/f/ebook-lead-scoring")
    page.fill("input[name=email]", f"visitor{secrets.randbelow(10**6)}@example.org")
    for select in page.locator("select").all():
        select.select_option(index=1)
    for box in page.locator("input[type=checkbox][required], input[type=checkbox]").all():
        box.check()
    for text in page.locator("input[required][type=text]").all():
        text.fill("Lorem")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return str(page.content())


def back_office_pages(page: Any, base: str) -> list[str]:
    paths = [
        "/admin/",
        "/admin/?days=90",
        "/admin/leads/",
        "/admin/forms/",
        "/admin/forms/new",
        "/admin/forms/contact",
        "/admin/forms/contact/edit",
        "/admin/magnets/",
        "/admin/magnets/new",
        "/admin/magnets/lead-scoring-guide",
        "/admin/magnets/lead-scoring-guide/nurture",
        "/admin/quarantine/",
        "/admin/webhooks/",
        "/admin/routing/",
        "/admin/privacy-requests/",
        "/admin/settings/",
        "/admin/settings/scoring/",
    ]
    page.goto(f"{base}/admin/leads/")
    lead = page.locator("table a[href*='/admin/leads/']").first.get_attribute("href")
    paths.insert(3, lead)
    return paths


def run_axe(page: Any, axe_source: str) -> list[dict[str, Any]]:
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ("
        "{id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))"
    )
    return list(result)


def run_vnu(cache: Path, files: list[Path]) -> dict[str, list[str]]:
    jar = cache / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
    done = subprocess.run(
        ["java", "-jar", str(jar), "--format", "json", "--exit-zero-always", *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, list[str]] = {str(f): [] for f in files}
    for message in json.loads(done.stderr or done.stdout or "{}").get("messages", []):
        if message.get("type") == "error":
            where = message.get("url", "").removeprefix("file:")
            found.setdefault(where, []).append(f"l{message.get('lastLine')}: {message['message']}")
    return found


def run_lighthouse(cache: Path, url: str) -> dict[str, int]:
    binary = cache / "node_modules" / ".bin" / "lighthouse"
    done = subprocess.run(
        [
            str(binary),
            url,
            "--quiet",
            "--output=json",
            "--output-path=stdout",
            "--only-categories=performance,accessibility,best-practices,seo",
            "--chrome-flags=--headless=new " + " ".join(CHROMIUM_ARGS),
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
        return {}
    report = json.loads(done.stdout)
    scores = {key: round(100 * (c["score"] or 0)) for key, c in report["categories"].items()}
    failing = [
        f"{a['id']}={a['score']}"
        for a in report["audits"].values()
        if a.get("score") is not None and a["score"] < 0.9 and a.get("scoreDisplayMode") == "binary"
    ]
    cls = report["audits"]["cumulative-layout-shift"]["numericValue"]
    print(f"    CLS {cls:.3f}; failing: {', '.join(failing) or 'none'}")
    return scores


def screenshots(browser: Any, base: str, password: str, where: Path, paths: dict[str, str]) -> None:
    where.mkdir(parents=True, exist_ok=True)
    for width in (390, 1280):
        context = browser.new_context(
            viewport={"width": width, "height": 844 if width == 390 else 800}
        )
        page = context.new_page()
        log_in(page, base, password)
        for name, path in SHOTS:
            if path == "{thanks}":
                thank_you(page, base)
            else:
                page.goto(base + path.format(**paths))
            target = where / f"{name}-{width}.png"
            page.screenshot(path=str(target), full_page=True)
            if shutil.which("pngquant"):  # a quarter of the bytes, text still crisp
                quantize = ["pngquant", "--force", "--skip-if-larger", "--ext", ".png", "256"]
                subprocess.run([*quantize, str(target)], check=False)
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="where npm installed the tools")
    parser.add_argument("--screenshots", type=Path, help="also write screenshots here")
    parser.add_argument("--no-lighthouse", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    axe_source = (args.cache / "node_modules" / "axe-core" / "axe.min.js").read_text()
    problems = 0
    with demo_instance() as (base, password, database, key):
        lead = seed(base)
        spread(database)
        ab_test(database)
        html_dir = Path(tempfile.mkdtemp(prefix="leadgate-html-"))
        pages: dict[str, Path] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
            page = context.new_page()
            public = [
                "/f/newsletter",
                "/f/contact",
                "/f/ebook-lead-scoring",
                "/f/contact?embed=1",
                "/p/lead-scoring-guide",
                "/p/lead-scoring-guide?lang=sv",
                "/f/newsletter?lang=en",
                "/demo/partner",
                preference_page(key, lead) + "?lang=da",
                preference_page(key, lead) + "/data?lang=sv",
                preference_page(key, lead) + "/erase?lang=en",
            ]
            print("axe-core (violations) and page width at 390 px:")
            for path in public:
                problems += report_page(
                    page, path, fetch(page, base + path), axe_source, html_dir, pages
                )
            thanks_html = thank_you(page, base)
            problems += report_page(page, "(thank-you)", thanks_html, axe_source, html_dir, pages)
            log_in(page, base, password)
            office = back_office_pages(page, base)
            for path in office:
                problems += report_page(
                    page, path, fetch(page, base + path), axe_source, html_dir, pages
                )
            if args.screenshots:
                lead = next(p for p in office if p.startswith("/admin/leads/") and len(p) > 14)
                screenshots(browser, base, password, args.screenshots, {"lead": lead})
            browser.close()
        print("Nu HTML checker (errors):")
        for path, errors in zip(
            pages, run_vnu(args.cache, list(pages.values())).values(), strict=True
        ):
            print(f"  {len(errors):3d}  {path}")
            for error in errors[:5]:
                print(f"         {error}")
            problems += len(errors)
        if not args.no_lighthouse:
            print("Lighthouse (mobile):")
            for path in ("/f/ebook-lead-scoring", "/p/lead-scoring-guide"):
                scores = run_lighthouse(args.cache, base + path)
                print(f"  {path}: " + ", ".join(f"{k} {v}" for k, v in scores.items()))
                problems += sum(1 for key, bar in BARS.items() if scores.get(key, 0) < bar)
    print("OK: nothing below the bar." if not problems else f"{problems} problem(s).")
    return 1 if problems else 0


def fetch(page: Any, url: str) -> str:
    """Open `url` in the page; returns the HTML the server sent (what vnu checks)."""
    response = page.goto(url)
    if response is None or response.status != 200:
        raise SystemExit(f"{url}: {response.status if response else 'no response'}")
    return str(response.text())


def report_page(
    page: Any, path: str, html: str, axe_source: str, html_dir: Path, pages: dict[str, Path]
) -> int:
    target = html_dir / f"page{len(pages):02d}.html"
    target.write_text(html)
    pages[path] = target
    violations = run_axe(page, axe_source)
    width = page.evaluate("document.documentElement.scrollWidth")
    print(f"  {len(violations):3d}  {width:4d}px  {path}")
    for v in violations:
        print(f"         {v['id']} ({v['impact']}): {'; '.join(v['nodes'])}")
    return len(violations) + (1 if width > 390 else 0)


if __name__ == "__main__":
    sys.exit(main())
