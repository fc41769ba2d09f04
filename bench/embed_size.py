"""Print the size of /embed.js and /track.js as the app serves them, raw and after gzip -9.

Asks the app itself (a test client on a throw-away database), so the figure is what partner
sites download, whichever build is in place. Prints; never fails a run.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from wsgi import create_app

# The embed's bar is quality.md's; the tracking script (embed/build_track.py) has its own.
BARS = {"/embed.js": 3000, "/track.js": 1000}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench-embed-size-0123456789abcdefghij",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                "RATELIMIT_ENABLED": False,
            }
        )
        client = app.test_client()
        served = {
            path: client.get(path, headers={"Accept-Encoding": "identity"}).data for path in BARS
        }
    for path, body in served.items():
        packed = len(gzip.compress(body, 9))
        verdict = "within" if packed <= BARS[path] else "OVER"
        print(
            f"bench embed_size: {path} served {len(body)} bytes, gzip -9 {packed} bytes "
            f"({verdict} the bar of {BARS[path]})"
        )


if __name__ == "__main__":
    main()
