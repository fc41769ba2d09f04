"""YAML from people (form definitions, scoring rules) read without anchors and aliases.

An alias (`*name`) makes the loaded document share one node wherever it is used, so a few
hundred bytes of nested aliases ("billion laughs") expand to a tree no walk finishes: a form
definition of 624 bytes held a worker for 30 seconds before it failed. Definitions never need
aliases, so the loader refuses them as it composes the document, before anything walks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent


class AliasRefused(ComposerError):
    """A YAML alias (`*name`): refused, with the line and column where it stands."""


class _NoAliasLoader(yaml.SafeLoader):
    """The safe loader, composing no alias node: the first `*name` raises `AliasRefused`."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise AliasRefused(
                None,
                None,
                "aliases (*name) are not allowed; write the values out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load(text: str) -> Any:
    """The document in `text`; raises `yaml.YAMLError` (`AliasRefused` for an alias)."""
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def describe(problem: yaml.YAMLError) -> str:
    """One line for people: what is wrong and where (line and column, counted from 1)."""
    mark = getattr(problem, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    if isinstance(problem, AliasRefused):
        return f"aliases (*name) are not allowed; write the values out{where}"
    return f"not valid YAML{where}"


class Unreadable(Exception):
    """A YAML file that could not be read or parsed; the message says why, in one line."""


def load_file(path: Path) -> Any:
    """The document in the file at `path`, for the CLI imports; raises `Unreadable`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not valid YAML: {exc}") from exc
    try:
        return load(text)
    except yaml.YAMLError as exc:
        raise Unreadable(describe(exc)) from exc
