"""Where the files that are not Python live: templates/, static/, migrations/ and embed/.

In a checkout (and an editable install) they sit at the top of the repository, beside capture/.
A wheel (`pip install .`) ships them in `leadgate_files/` beside the packages in site-packages
(see setup.py), so an installed app finds them whatever the working directory.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
_INSTALLED = ROOT / "leadgate_files"
FILES = _INSTALLED if _INSTALLED.is_dir() else ROOT

TEMPLATES = FILES / "templates"
STATIC = FILES / "static"
MIGRATIONS = FILES / "migrations"
# The readable embed source exists only in a checkout; an install has the minified build alone.
EMBED_SOURCE = FILES / "embed" / "embed.js"
EMBED_BUILT = STATIC / "embed.min.js"
# sha256 of the embed.js that static/embed.min.js was built from (embed/build.py writes both).
EMBED_BUILT_FROM = FILES / "embed" / "embed.min.js.sha256"
