"""The embed on a partner's page in Chromium: layout shift, and how soon the form is usable.

Bars (quality.md): CLS = 0 with the height reserved in the snippet; the form usable <= 100 ms
after its definition arrives on loopback; one request for the definition per page. Each load
is a fresh browser context (cold cache), the page on another origin than the app, both on
loopback. Times come from the page itself: Resource Timing gives when embed.js and the
definition arrived, a MutationObserver when the e-mail input appeared.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from bench.table import Row, verdict
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import save_spec
from wsgi import create_app

CHROMIUM = "/usr/bin/chromium"
LOADS = 30
RESERVED = 640
PROBE = """<script>
window.bench = {shift: 0, usable: null};
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) { if (!e.hadRecentInput) bench.shift += e.value; });
}).observe({type: "layout-shift", buffered: true});
new MutationObserver(function () {
  if (bench.usable === null && document.querySelector("[data-leadgate-form] input[type=email]"))
    bench.usable = performance.now();
}).observe(document.documentElement, {childList: true, subtree: true});
</script>"""
MEASURE = """() => {
  const entries = performance.getEntriesByType("resource");
  const script = entries.find(e => e.name.endsWith("/embed.js"));
  const definitions = entries.filter(e => e.name.includes("/api/v1/forms/"));
  return {shift: bench.shift, usable: bench.usable, script: script && script.responseEnd,
          definition: definitions.length ? definitions[0].responseEnd : null,
          definitions: definitions.length};
}"""


def _form(origin: str) -> dict[str, Any]:
    return {
        "slug": "bench-embed",
        "name": "Benchmark: embedded e-book form",
        "conversion": "ebook_download",
        "language": "da",
        "fields": [
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text", "required": True},
            {"name": "company", "type": "text"},
        ],
        "consents": [
            {"purpose": "processing", "required": True, "text": {"da": "Vi behandler det."}},
            {"purpose": "marketing", "required": False, "text": {"da": "Send mig nyheder."}},
        ],
        "allowed_origins": [origin],
    }


class _PartnerPage:
    def __init__(self, app_url: str):
        body = (
            '<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Partner</title>'
            f'<link rel="icon" href="data:,">{PROBE}</head><body>'
            "<h1>Lead scoring</h1><p>An article by the partner.</p>"
            f'<div data-leadgate-form="bench-embed" data-lang="da" '
            f'style="min-height:{RESERVED}px"></div><p>Text that must not move.</p>'
            f'<script src="{app_url}/embed.js" async></script></body></html>'
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # `localhost` against the app's `127.0.0.1`: another origin, as on a partner's site.
        self.url = f"http://localhost:{self.server.server_port}/guide"
        self.origin = f"http://localhost:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _loads(app_url: str, page_url: str) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for _ in range(LOADS):
                context = browser.new_context()
                page = context.new_page()
                page.goto(page_url)
                page.locator("[data-leadgate-form] input[type=email]").wait_for()
                page.wait_for_timeout(300)  # late shifts would show up here
                results.append(page.evaluate(MEASURE))
                context.close()
        finally:
            browser.close()
    return results


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(notes: list[str]) -> list[Row]:
    if not Path(CHROMIUM).exists():
        notes.append(f"embed on the page: skipped, {CHROMIUM} missing (apt-get install chromium)")
        return [Row("embed on the page (Chromium)", "skipped: no Chromium", verdict="skipped")]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench-embed-page-0123456789abcdefghijkl",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                "STORAGE_URL": (Path(tmp) / "storage").as_uri(),
                "RATELIMIT_ENABLED": False,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        app_url = f"http://127.0.0.1:{server.server_port}"
        partner = _PartnerPage(app_url)
        with app.app_context():
            db.create_all()
            save_spec(parse_definition(_form(partner.origin)))
            db.session.commit()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started = time.monotonic()
        try:
            results = _loads(app_url, partner.url)
        finally:
            server.shutdown()
            partner.server.shutdown()
    after_definition = [r["usable"] - r["definition"] for r in results]
    after_script = [r["usable"] - r["script"] for r in results]
    usable_p95 = _p(after_definition, 0.95)
    shift = max(r["shift"] for r in results)
    requests = max(r["definitions"] for r in results)
    notes.append(
        f"embed on the page: {LOADS} cold loads of a partner page (another origin) in Debian's "
        f"Chromium in {time.monotonic() - started:.0f} s; usable = the e-mail input in the DOM"
    )
    return [
        Row(
            "embed: layout shift (CLS), worst load",
            f"{shift:.3f}",
            bar="= 0",
            verdict=verdict(shift == 0),
        ),
        Row(
            "embed: usable after the definition arrives",
            f"p50 {statistics.median(after_definition):.1f} ms, p95 {usable_p95:.1f} ms",
            bar="<= 100 ms",
            verdict=verdict(usable_p95 <= 100),
        ),
        Row(
            "embed: script loaded to form usable",
            f"p50 {statistics.median(after_script):.1f} ms, p95 {_p(after_script, 0.95):.1f} ms",
        ),
        Row(
            "embed: definition requests per page",
            str(requests),
            bar="1",
            verdict=verdict(requests == 1),
        ),
    ]


if __name__ == "__main__":
    from bench.table import render

    collected: list[str] = []
    print(render(run(collected)))
    print("\n".join(f"- {note}" for note in collected))
