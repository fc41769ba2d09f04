"""The package is the install: what `pip install .` ships, and that it runs outside the checkout.

Builds the sdist and, from it, the wheel (`python -m build`, as a release would), then checks
the wheel holds the compiled da/sv catalogues, the minified embed, templates/, static/ and
migrations/, installs it into a bare directory and serves Danish and Swedish pages and the
minified `/embed.js` from a working directory that is not the checkout. `.ci/production-smoke`
does the same end to end with the README's commands, gunicorn and PostgreSQL.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from capture.web import embed

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("da", "sv")
SHIPPED = ("templates", "static", "migrations")
EMBED_BUDGET = 3000


def _tree(directory: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / directory).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _compiled(language: str) -> bytes:
    """messages.mo as `pybabel compile` makes it from the committed messages.po."""
    po = ROOT / "capture" / "translations" / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    target = io.BytesIO()
    write_mo(target, catalog)
    return target.getvalue()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> zipfile.ZipFile:
    (path,) = dist.glob("leadgate-*.whl")
    return zipfile.ZipFile(path)


def test_the_committed_catalogues_are_the_compiled_po_files():
    for language in LANGUAGES:
        mo = ROOT / "capture" / "translations" / language / "LC_MESSAGES" / "messages.mo"
        assert mo.read_bytes() == _compiled(language), f"run `make translations` ({language})"


def test_the_wheel_ships_the_compiled_catalogues(wheel):
    for language in LANGUAGES:
        name = f"capture/translations/{language}/LC_MESSAGES/messages.mo"
        assert wheel.read(name) == _compiled(language)


def test_the_wheel_ships_the_minified_embed_within_budget(wheel):
    built = wheel.read("leadgate_files/static/embed.min.js")
    assert built == (ROOT / "static" / "embed.min.js").read_bytes()
    assert len(built) < len((ROOT / "embed" / "embed.js").read_bytes()) / 2
    assert len(gzip.compress(built, 9)) <= EMBED_BUDGET


def test_the_wheel_ships_templates_static_and_migrations(wheel):
    names = set(wheel.namelist())
    for directory in SHIPPED:
        expected = {f"leadgate_files/{name}" for name in _tree(directory)}
        assert expected, directory
        assert expected <= names, sorted(expected - names)
    for module in (
        "wsgi.py",
        "leadgate_gunicorn.py",
        "capture/base/paths.py",
        "magnets/__init__.py",
    ):
        assert module in names


def test_the_sdist_builds_the_same_wheel_offline(dist):
    """The wheel above was built from the sdist: it carries every input, and setup.py."""
    (path,) = dist.glob("leadgate-*.tar.gz")
    with tarfile.open(path) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"setup.py", "MANIFEST.in", "embed/embed.js", "gunicorn.conf.py"} <= names
    for directory in SHIPPED:
        assert _tree(directory) <= names, directory
    for language in LANGUAGES:
        assert f"capture/translations/{language}/LC_MESSAGES/messages.mo" in names


SERVE = """
import json, sys, tempfile
from pathlib import Path

import capture, capture.base.paths
from wsgi import create_app

db = Path(tempfile.mkdtemp()) / "app.sqlite3"
app = create_app({
    "SECRET_KEY": "install-test-0123456789abcdefghijklmnop",
    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db}",
    "RATELIMIT_ENABLED": False,
})
cli = app.test_cli_runner()
for args in (["db", "upgrade"], ["forms", "import", sys.argv[1]]):
    result = cli.invoke(args=args)
    assert result.exit_code == 0, (args, result.output, result.exception)
client = app.test_client()
pages = {
    language: client.get(f"/f/install-test?lang={language}").get_data(as_text=True)
    for language in ("en", "da", "sv")
}
embed = client.get("/embed.js", headers={"Accept-Encoding": "identity"})
print(json.dumps({
    "capture": capture.__file__,
    "files": str(capture.base.paths.FILES),
    "pages": pages,
    "embed": embed.get_data(as_text=True),
}))
"""

FORM = """\
slug: install-test
name: Install test
conversion: newsletter_signup
language: en
fields:
  - {name: email, type: email, required: true}
  - {name: first_name, type: text, required: true}
consents:
  - purpose: processing
    required: true
    text: {en: "We use your details to send you the newsletter."}
success:
  message: {en: "Thanks!"}
"""


def test_the_installed_wheel_serves_translated_pages_and_the_minified_embed(dist, tmp_path):
    """Installed into a bare directory, run from another: no checkout file is used."""
    (path,) = dist.glob("leadgate-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), path],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    form = tmp_path / "form.yaml"
    form.write_text(FORM)
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADGATE_")}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", SERVE, str(form)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout.splitlines()[-1])
    assert Path(served["capture"]).is_relative_to(site)
    assert served["files"] == str(site / "leadgate_files")
    assert "unminified" not in done.stderr
    assert served["embed"] == (ROOT / "static" / "embed.min.js").read_text()
    for language in LANGUAGES:
        po = ROOT / "capture" / "translations" / language / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as source:
            first_name = read_po(source, locale=language)["First name"].string
        assert first_name and first_name != "First name"
        assert first_name in served["pages"][language]
        assert first_name not in served["pages"]["en"]
        assert f'lang="{language}"' in served["pages"][language]


# A clone or a copy sets modification times in any order: the build's freshness is by content.


@pytest.fixture
def embed_files(tmp_path, monkeypatch):
    """The committed embed source, build and hash, copied where a test may age or edit them."""
    copies = {}
    for name, path in (("SOURCE", embed.SOURCE), ("BUILT", embed.BUILT)):
        copies[name] = tmp_path / path.name
        copies[name].write_bytes(path.read_bytes())
        monkeypatch.setattr(embed, name, copies[name])
    copies["BUILT_FROM"] = tmp_path / "embed.min.js.sha256"
    copies["BUILT_FROM"].write_bytes(embed.BUILT_FROM.read_bytes())
    monkeypatch.setattr(embed, "BUILT_FROM", copies["BUILT_FROM"])
    return copies


def test_an_older_build_of_the_same_source_is_served_without_a_warning(client, embed_files, caplog):
    day = 24 * 3600
    source_time = embed_files["SOURCE"].stat().st_mtime
    for name in ("BUILT", "BUILT_FROM"):
        os.utime(embed_files[name], (source_time - day, source_time - day))
    response = client.get("/embed.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.data == embed_files["BUILT"].read_bytes()
    assert "unminified" not in caplog.text


def test_an_edited_source_is_served_as_written_with_a_warning(client, embed_files, caplog):
    edited = embed_files["SOURCE"].read_bytes() + b"\n// edited after the build\n"
    embed_files["SOURCE"].write_bytes(edited)
    response = client.get("/embed.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.data == edited
    assert "serving embed/embed.js unminified" in caplog.text


def test_the_committed_embed_build_is_the_build_of_the_source():
    """`make check-built` in the suite too: run `make embed` and commit both files."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "embed" / "build.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
