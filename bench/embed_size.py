"""Print the size of /embed.js as the app serves it, raw and after gzip -9 (bar: 3,000 bytes).

Asks the app itself (a test client on a throw-away database), so the figure is what partner
sites download, whichever build is in place. Prints; never fails a run.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from wsgi import create_app

BAR = 3000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench-embed-size-0123456789abcdefghij",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                "RATELIMIT_ENABLED": False,
            }
        )
        body = app.test_client().get("/embed.js", headers={"Accept-Encoding": "identity"}).data
    packed = len(gzip.compress(body, 9))
    verdict = "within" if packed <= BAR else "OVER"
    print(
        f"bench embed_size: /embed.js served {len(body)} bytes, gzip -9 {packed} bytes "
        f"({verdict} the bar of {BAR})"
    )


if __name__ == "__main__":
    main()
