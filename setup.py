"""The one build step setuptools cannot be told in pyproject.toml: ship the app's files.

templates/, static/ (with the committed embed.min.js) and migrations/ live at the top of the
checkout, beside capture/ and magnets/. A wheel puts them in `leadgate_files/` beside the
packages, where capture/base/paths.py finds them, so an installed app runs from any directory. An
editable install (`pip install -e .`) needs nothing: the checkout itself is used.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("templates", "static", "migrations")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc")


class BuildWithFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "leadgate_files"
        for name in SHIPPED:
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(HERE / name, target / name, ignore=SKIP)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not self.editable_mode:
            target = Path(self.build_lib) / "leadgate_files"
            outputs += [str(path) for path in target.rglob("*") if path.is_file()]
        return outputs


setup(cmdclass={"build_py": BuildWithFiles})
