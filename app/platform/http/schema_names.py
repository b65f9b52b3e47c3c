"""Names for the schemas a route describes in place, so generated code gets them too.

A request body written into a route's OpenAPI description (a batch, a pipeline definition, an
intake delivery) has no component of its own: generators then name its class after the
operation and the path (`PutPipelineBody`). Such a body that has a `title`, and any titled
object inside it (a batch's item), is moved into the document's components under that title
and referenced from there.
"""

from __future__ import annotations

from typing import Any


def _named(node: Any, components: dict[str, Any], *, whole: bool) -> Any:
    """`node` with its titled objects (itself too, where it is a whole body) as references."""
    if isinstance(node, list):
        return [_named(item, components, whole=False) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _named(value, components, whole=False) for key, value in node.items()}
    title = node.get("title")
    if title is None or "$ref" in node or not (whole or "properties" in node):
        return node
    assert components.get(title, node) == node, f"two different schemas are titled {title}"
    components[title] = node
    return {"$ref": f"#/components/schemas/{title}"}


def name_request_bodies(schema: dict[str, Any]) -> dict[str, Any]:
    """Move every titled request body schema into `components/schemas/<title>`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if "schema" in media:
                    media["schema"] = _named(media["schema"], components, whole=True)
    return schema


def sort_components(schema: dict[str, Any]) -> dict[str, Any]:
    """The component schemas in name order, however the passes before added them, so the
    committed document reads like an index and diffs stay small."""
    components = schema.get("components", {})
    if "schemas" in components:
        components["schemas"] = dict(sorted(components["schemas"].items()))
    return schema
