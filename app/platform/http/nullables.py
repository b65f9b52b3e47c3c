"""One way to say "or null" in the OpenAPI document.

Pydantic writes an optional field as `anyOf: [{type: string, ...}, {type: null}]`, which ReDoc
draws as a two-way choice on every such field, and some generators turn into a union type.
OpenAPI 3.1 says the same as `type: [string, "null"]`: drawn as "string or null", read as an
optional value. Branches that are references, enums or constants keep their `anyOf`, where the
shorter form would change what validates.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def _or_null(branches: list[Any]) -> dict[str, Any] | None:
    if len(branches) != 2 or _NULL not in branches:
        return None
    other = branches[0] if branches[1] == _NULL else branches[1]
    kind = other.get("type") if isinstance(other, dict) else None
    if not isinstance(kind, str) or {"$ref", "enum", "const"} & other.keys():
        return None
    return {**other, "type": [kind, "null"]}


def _simplified(node: Any) -> Any:
    if isinstance(node, list):
        return [_simplified(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _simplified(value) for key, value in node.items()}
    merged = _or_null(node["anyOf"]) if isinstance(node.get("anyOf"), list) else None
    if merged is None:
        return node
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    return {**merged, **rest}


def simplify_nullables(schema: dict[str, Any]) -> dict[str, Any]:
    """The document with every plain `anyOf [T, null]` written as `type: [T, "null"]`."""
    simplified: dict[str, Any] = _simplified(schema)
    return simplified
