"""A partner's web site for browser tests: a page on its own loopback port, so its origin is
not the app's, as on the real web."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

# Measures layout shift from the very start of the page (buffered), ignoring shifts that
# follow the person's own input, as Cumulative Layout Shift does.
CLS_PROBE = """<script>
window.layoutShift = 0;
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) { if (!e.hadRecentInput) window.layoutShift += e.value; });
}).observe({type: "layout-shift", buffered: true});
</script>"""


class Site:
    """A partner's web site: serves whatever page the test gives it, at any path."""

    def __init__(self, host: str):
        site = self
        self.html = ""
        self.scripts: dict[str, str] = {}
        self.posts: list[dict[str, list[str]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                script = site.scripts.get(self.path)
                body = (script if script is not None else site.html).encode()
                self.send_response(200)
                kind = "text/javascript" if script is not None else "text/html; charset=utf-8"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                """A CAPTCHA provider's siteverify, for the CAPTCHA test."""
                length = int(self.headers["Content-Length"])
                form = parse_qs(self.rfile.read(length).decode())
                site.posts.append(form)
                ok = form.get("response") == ["human:site-key-1"]
                body = json.dumps({"success": ok}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, body: str) -> None:
        self.html = (
            '<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Partner</title>'
            '<link rel="icon" href="data:,">'
            "<style>body{font-family:Georgia,serif;font-size:18px;max-width:40rem}</style>"
            f"{CLS_PROBE}</head><body>{body}</body></html>"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
