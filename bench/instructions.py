"""`python -m bench.instructions`: the instructions the app's process executes per submission,
counted by callgrind.

This machine's speed drifts by a third within a minute, so CPU seconds compare two versions of
the code badly (README, "Speed and faults"). callgrind counts the instructions a process
executes: the same code gives the same count on every run (within 0.3 % here), whatever else
the machine is doing. The app runs in-process (the test client, as in `bench.statements`) in
production mode on a migrated database of its own; 20 submissions warm it, and only the
`--requests` that follow are counted (instrumentation switched on and off around them with
`callgrind_control`). What is counted is this process's work, Python's and the libraries',
not the kernel's and not PostgreSQL's, nor gunicorn's (the test client stands in for it).
Needs valgrind (Debian's package); about 20 s.

    python -m bench.instructions [--requests 60]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.database import ROOT, BenchDatabase
from bench.server import bench_env
from bench.submissions import FORM, OURS_PATH

CHILD = "LEADGATE_BENCH_INSTRUCTIONS_CHILD"
ORIGIN = "https://www.partner.example"
WARM_UP = 20


def _toggle(state: str) -> None:
    subprocess.run(
        ["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True
    )


def _child(requests: int) -> None:
    """Runs under valgrind: submissions through the test client, the measured ones counted."""
    from wsgi import create_app

    app = create_app()
    client = app.test_client()
    token = client.get(f"/api/v1/forms/{FORM}", headers={"Origin": ORIGIN}).get_json()["token"]

    def submit(n: int) -> None:
        body: dict[str, Any] = {
            "fields": {"email": f"p{n}@bench.example", "first_name": "Åse", "company": "Firma"},
            "consents": {"processing": True, "marketing": n % 2 == 0},
            "context": {"page_url": f"{ORIGIN}/guide", "utm_source": "linkedin"},
            "token": token,
        }
        headers = {"Origin": ORIGIN, "Idempotency-Key": f"k{n}", "Content-Type": "text/plain"}
        answer = client.post(OURS_PATH, data=json.dumps(body), headers=headers)
        if answer.status_code != 201:
            raise RuntimeError(f"submission answered {answer.status_code}: {answer.data!r}")

    for n in range(WARM_UP):
        submit(n)
    _toggle("on")
    for n in range(WARM_UP, WARM_UP + requests):
        submit(n)
    _toggle("off")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("--requests", type=int, default=60)
    options = parser.parse_args()
    if os.environ.get(CHILD):
        _child(options.requests)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    database = BenchDatabase()
    env = bench_env(database, 1)
    try:
        database.create(env)
        with tempfile.TemporaryDirectory() as work:
            out = Path(work) / "callgrind.out"
            run = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    "-m",
                    "bench.instructions",
                    f"--requests={options.requests}",
                ],
                # Hash seeds fixed: dict and set layouts, so the count, repeat.
                env={**env, CHILD: "1", "PYTHONHASHSEED": "0", "LOG_LEVEL": "info"},
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
    finally:
        database.drop()
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        print(run.stderr[-3000:], file=sys.stderr)
        return 1
    per_request = int(found.group(1)) / options.requests
    print(
        f"{per_request / 1e6:.2f}M instructions per submission in the app's process "
        f"({options.requests} in-process fresh submissions, PostgreSQL, production mode)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
