"""`make audit`: sqlmap and wapiti against a throw-away local instance, bounded, on loopback only.

Starts gunicorn on 127.0.0.1 with production settings (LEADGATE_ENV=production, a fresh
SECRET_KEY, PUBLIC_BASE_URL and trusted hosts set, JSON logs) on a new database filled by
`leadgate demo`, an admin account and a read API token made for the scan; then runs sqlmap on
the public form API, the submission endpoint, the back office lead search (logged in) and the
authenticated lead API, and wapiti (crawl and attack, logged in) over the whole site. Rate
limits are off, or the scanners would only meet 429s, and console mail is allowed: the demo data
is nobody's. Each tool is bounded in time and in requests (see the options below); the summary
lines of each, the number of requests the server answered and how many got a 5xx are printed.
The instance is stopped and its files removed at the end.

Settings (environment): AUDIT_DATABASE_URL (default: SQLite in the scratch directory; a
PostgreSQL URL of an empty database to audit on PostgreSQL), AUDIT_PORT, AUDIT_SQLMAP_SECONDS
(per target, default 180), AUDIT_WAPITI_SECONDS (default 420), AUDIT_BIN (where sqlmap and
wapiti are installed, default .venv-audit/bin).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_BIN = ROOT / ".venv" / "bin"
AUDIT_BIN = Path(os.environ.get("AUDIT_BIN", ROOT / ".venv-audit" / "bin"))
HOST = "127.0.0.1"  # loopback only, whatever the environment says
ADMIN = "audit-admin@example.com"
SQLMAP_SECONDS = int(os.environ.get("AUDIT_SQLMAP_SECONDS", "180"))
WAPITI_SECONDS = int(os.environ.get("AUDIT_WAPITI_SECONDS", "420"))
# Modules that stay on the target: none that call wapiti's outside endpoints (ssrf, xxe,
# log4shell, spring4shell), resolve names (takeover) or download databases (wapp, nikto, cms).
WAPITI_MODULES = (
    "sql,timesql,xss,permanentxss,exec,file,redirect,crlf,csrf,methods,"
    "http_headers,cookieflags,csp,upload,ldap,shellshock,backup,htaccess"
)
START_PAGES = (
    "/admin/",
    "/f/newsletter",
    "/f/contact",
    "/f/ebook-lead-scoring",
    "/p/lead-scoring-guide",
    "/demo/partner",
)
SQLMAP_SUMMARY = re.compile(
    r"does not seem to be injectable|is vulnerable|injection point|appears to be .*injectable|"
    r"\[CRITICAL\]|Parameter: |Type: |Title: "
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def say(line: str) -> None:
    print(line, flush=True)


class Instance:
    """Our app under gunicorn on a loopback port, production settings, demo data."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = int(os.environ.get("AUDIT_PORT") or free_port())
        self.url = f"http://{HOST}:{self.port}"
        self.log = work / "server.log"
        database = os.environ.get("AUDIT_DATABASE_URL") or f"sqlite:///{work / 'audit.sqlite3'}"
        keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
        self.env = {name: value for name, value in os.environ.items() if name in keep}
        self.env.update(
            LEADGATE_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(48),
            SUPPRESSION_KEY=secrets.token_urlsafe(48),
            DATABASE_URL=database,
            LEADGATE_ALLOW_SQLITE="1",  # only read when DATABASE_URL is SQLite
            STORAGE_URL=(work / "magnets").as_uri(),
            MAIL_URL="console://",
            LEADGATE_ALLOW_CONSOLE_MAIL="1",  # demo data only
            PUBLIC_BASE_URL=self.url,
            LEADGATE_TRUSTED_HOSTS=HOST,
            RATELIMIT_ENABLED="0",
            LOG_FORMAT="json",
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [str(APP_BIN / "leadgate"), *args],
            cwd=ROOT,
            env=self.env,
            input=stdin.encode(),
            capture_output=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"leadgate {' '.join(args)} failed:\n{done.stderr.decode()}")
        return done.stdout.decode()

    def start(self) -> None:
        self.cli("db", "upgrade")
        self.cli("demo")
        self.password = secrets.token_urlsafe(18)
        self.cli("users", "create", ADMIN, "--role", "admin", stdin=self.password + "\n")
        self.api_token = self.cli("tokens", "create", "audit", "--scope", "read").strip()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(APP_BIN / "gunicorn"),
                    "-c",
                    "gunicorn.conf.py",
                    "--bind",
                    f"{HOST}:{self.port}",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the instance did not start; see {self.log}")

    def session_cookie(self) -> str:
        """Log in as the audit admin through the login page, as a browser does. By hand: the
        production cookie is Secure, which a cookie jar keeps for https only."""

        def session_of(answer: http.client.HTTPResponse) -> str:
            for header in answer.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                if name.strip() == "session":
                    return rest.split(";", 1)[0]
            raise SystemExit("the audit instance set no session cookie")

        connection = http.client.HTTPConnection(HOST, self.port, timeout=10)
        connection.request("GET", "/admin/login")
        page = connection.getresponse()
        cookie, html = session_of(page), page.read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', html
        )
        if token is None:
            raise SystemExit("no CSRF token on the login page")
        body = urllib.parse.urlencode(
            {"email": ADMIN, "password": self.password, "csrf_token": token.group(1)}
        )
        headers = {
            "Cookie": f"session={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        connection.request("POST", "/admin/login", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        connection.close()
        if answer.status != 303:
            raise SystemExit(f"could not log in to the audit instance: {answer.status}")
        return session_of(answer)

    def form_token(self, slug: str) -> str:
        """A real form token, so sqlmap's submissions are processed, not quarantined."""
        with urllib.request.urlopen(f"{self.url}/api/v1/forms/{slug}", timeout=10) as answer:
            return str(json.load(answer)["token"])

    def requests(self) -> tuple[int, int]:
        """(requests answered, of which 5xx) from the JSON access lines so far."""
        answered = errors = 0
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("logger") == "leadgate.access":
                answered += 1
                errors += int(record.get("status", 0)) >= 500
        return answered, errors

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def bounded(command: list[str], seconds: int, log: Path) -> str:
    """Run a scanner for at most `seconds`, its output to `log`; the output, or what it had."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
            with log.open("a") as note:
                note.write(f"\n[audit] stopped after {seconds} s (time bound)\n")
    return log.read_text(errors="replace")


def sqlmap(instance: Instance, cookie: str) -> None:
    base = instance.url
    submission = {
        "fields": {"email": "audit@example.com", "first_name": "Audit"},
        "consents": {"processing": True, "marketing": False},
        "context": {"page_url": f"{base}/", "utm_source": "audit"},
        "token": instance.form_token("newsletter"),
    }
    targets = [
        ("form API", [f"{base}/api/v1/forms/newsletter?lang=da"]),
        (
            "submission",
            [
                f"{base}/api/v1/forms/newsletter/submissions",
                f"--data={json.dumps(submission)}",
                "--headers=Content-Type: application/json",
            ],
        ),
        (
            "back-office lead search",
            [
                f"{base}/admin/leads/?q=ane&stage=lead&form=newsletter&period=30",
                f"--cookie=session={cookie}",
            ],
        ),
        (
            "lead API",
            [
                f"{base}/api/v1/leads?stage=lead&form=newsletter&limit=5",
                f"--headers=Authorization: Bearer {instance.api_token}",
            ],
        ),
    ]
    for name, target in targets:
        before = instance.requests()[0]
        # Level and risk 1, two threads, two-second time-based probes, no retries: a few
        # hundred requests per target, and at most SQLMAP_SECONDS of them.
        output = bounded(
            [
                str(AUDIT_BIN / "sqlmap"),
                "-u",
                *target,
                "--batch",
                "--level=1",
                "--risk=1",
                "--threads=2",
                "--timeout=10",
                "--retries=0",
                "--time-sec=2",
                "--flush-session",
                f"--output-dir={instance.work / 'sqlmap'}",
                "--disable-coloring",
            ],
            SQLMAP_SECONDS,
            instance.work / f"sqlmap-{name.replace(' ', '-')}.log",
        )
        answered = instance.requests()[0] - before
        say(f"sqlmap, {name}: {answered} requests")
        lines = [line.strip() for line in output.splitlines() if SQLMAP_SUMMARY.search(line)]
        for line in dict.fromkeys(lines):
            # sqlmap's closing line goes on with advice; its first sentence is the verdict.
            say(f"  {line.split('. Try to increase', 1)[0]}")
        if "[audit] stopped" in output:
            say(f"  stopped after {SQLMAP_SECONDS} s (time bound)")


def wapiti(instance: Instance, cookie: str) -> None:
    report = instance.work / "wapiti.txt"
    nowhere = "http://127.0.0.1:9/"  # the discard port: no callback leaves this machine
    before = instance.requests()[0]
    output = bounded(
        [
            str(AUDIT_BIN / "wapiti"),
            "-u",
            f"{instance.url}/",
            # Where the demo's pages are (/ itself is a 404), and the API by its own document.
            *[arg for page in START_PAGES for arg in ("-s", instance.url + page)],
            "--swagger",
            f"{instance.url}/api/v1/openapi.json",
            "-H",
            f"Authorization: Bearer {instance.api_token}",
            "--scope",
            "folder",
            "-m",
            WAPITI_MODULES,
            "-d",
            "3",
            "--max-links-per-page",
            "30",
            "--max-files-per-dir",
            "30",
            "--max-parameters",
            "12",
            "--max-scan-time",
            str(WAPITI_SECONDS - 30),
            "--max-attack-time",
            "60",
            "-t",
            "10",
            "--tasks",
            "4",
            "-x",
            f"{instance.url}/admin/logout",
            "-C",
            f"session={cookie}",
            "--endpoint",
            nowhere,
            "--external-endpoint",
            nowhere,
            "--flush-session",
            "--store-session",
            str(instance.work / "wapiti-session"),
            "-f",
            "txt",
            "-o",
            str(report),
            "--no-bugreport",
        ],
        WAPITI_SECONDS,
        instance.work / "wapiti.log",
    )
    answered = instance.requests()[0] - before
    say(f"wapiti: {answered} requests")
    if not report.exists():
        say("  no report; the last lines of its output:")
        for line in output.splitlines()[-15:]:
            say(f"  {line}")
        return
    text = report.read_text(errors="replace")
    for title, prefix in (("Summary of vulnerabilities", ""), ("Summary of anomalies", "anomaly ")):
        summary = text.split(title, 1)[-1].split("*****", 1)[0]
        for line in summary.splitlines():
            name, _, count = line.partition(":")
            if name.strip() and count.strip():
                say(f"  {prefix}{name.strip()}: {count.strip()}")
    # What each finding was about: the request line after "Evil request:".
    lines = text.splitlines()
    for n, line in enumerate(lines[:-1]):
        if line.strip() == "Evil request:":
            heading = next((h for h in reversed(lines[: max(n - 1, 0)]) if h and h[0] != " "), "")
            say(f"  finding: {lines[n + 1].strip()}  ({heading.strip()})")
    for line in output.splitlines():
        if "stopped" in line.lower() and ("time" in line.lower() or "audit" in line):
            say(f"  {line.strip()}")


def main() -> int:
    for tool in ("sqlmap", "wapiti"):
        if not (AUDIT_BIN / tool).exists():
            raise SystemExit(f"{AUDIT_BIN / tool} is missing: run `make audit`, which installs it")
    work = Path(tempfile.mkdtemp(prefix="leadgate-audit-"))
    instance = Instance(work)
    try:
        instance.start()
        say(f"audit instance: {instance.url} (production settings, demo data), files in {work}")
        cookie = instance.session_cookie()
        sqlmap(instance, cookie)
        wapiti(instance, cookie)
        answered, errors = instance.requests()
        say(f"server: {answered} requests answered, {errors} with a 5xx")
        return 1 if errors else 0
    finally:
        instance.stop()
        if os.environ.get("AUDIT_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
