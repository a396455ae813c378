"""Read ``wingmate.yaml`` into plain values that remember their line numbers.

PyYAML's composer keeps a mark on every node; we walk the node tree instead of
loading plain dicts so that every error can name the line it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from _common.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Located:
    """A YAML value and the 1-based line it starts on."""

    value: Any
    line: int


def read_yaml(text: str, path: str) -> Node | None:
    """Parse ``text`` into a node tree, or None for an empty document.

    Raises:
        ConfigError: the text is not valid YAML; the error names the line.
    """
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "cannot parse"
        raise ConfigError(
            f"invalid YAML: {problem}",
            path=path,
            line=line,
            hint="check indentation and quoting around this line",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path) from exc


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def mapping_items(node: Node, path: str, what: str) -> list[tuple[Located, Node]]:
    """The (key, value node) pairs of a mapping node, keys as scalars.

    Raises:
        ConfigError: the node is not a mapping, a key is not a scalar, or a key
            appears twice.
    """
    if not isinstance(node, MappingNode):
        raise ConfigError(
            f"{what} must be a mapping of names to settings",
            path=path,
            line=line_of(node),
            hint="write it as 'name:' lines indented under it",
        )
    items: list[tuple[Located, Node]] = []
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = scalar_value(key_node)
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise ConfigError(
                f"a key in {what} is not a plain name",
                path=path,
                line=line_of(key_node),
                hint="use a plain word as the key",
            )
        key = str(key)
        if key in seen:
            raise ConfigError(
                f"'{key}' appears twice in {what}",
                path=path,
                line=line_of(key_node),
                hint=f"it was first set on line {seen[key]}; keep one of them",
            )
        seen[key] = line_of(key_node)
        items.append((Located(key, line_of(key_node)), value_node))
    return items


def scalar_value(node: Node) -> Any:
    """The Python value of a node (scalars, lists and maps alike)."""
    constructor = SafeConstructor()
    return constructor.construct_object(node, deep=True)


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def sequence_nodes(node: Node) -> list[Node] | None:
    return list(node.value) if isinstance(node, SequenceNode) else None
