"""YAML that remembers where each value was written, so an error names its line.

Reviewed files (a mapping, a routing file) are edited by people; "kinds.2.fields.amount"
is exact, "line 41" is what an editor jumps to. Both come out of one parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlDocument:
    """A YAML text's data and the line (from 1) of every key and list item in it."""

    def __init__(self, text: str) -> None:
        """Raises ``yaml.YAMLError`` when ``text`` is not YAML."""
        self.data: Any = yaml.safe_load(text)
        self._lines: dict[Path, int] = {}
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            self._walk(node, ())

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path`` or of its nearest ancestor written in the file."""
        parts = tuple(path)
        while parts:
            if parts in self._lines:
                return self._lines[parts]
            parts = parts[:-1]
        return None

    def _walk(self, node: yaml.Node, path: Path) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                self._lines[here] = key.start_mark.line + 1
                self._walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                here = (*path, index)
                self._lines[here] = item.start_mark.line + 1
                self._walk(item, here)
