"""Turn a pydantic model's JSON schema into the input fields the console's forms draw.

A human task's ``form=`` is a pydantic model and a workflow's input is its type hint; the browser
gets a flat list of fields (``text``, ``textarea``, ``number``, ``integer``, ``checkbox``,
``select``, ``date``, ``datetime``, ``json``) and sends back plain JSON, which the task or the
workflow validates with the same model. Anything the flat list cannot draw (nested models, lists,
unions of several types) becomes a ``json`` field: a text area holding JSON, so no schema is
unusable in the browser. The conversion is a pure function so it is tested without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: String lengths above this get a text area instead of a one-line input.
_LONG_TEXT = 200
_FORMATS = {"date": "date", "date-time": "datetime", "email": "email", "uri": "url"}


def schema_of(model: Any) -> dict[str, Any] | None:
    """The JSON schema of a pydantic model class (or of a schema dict given as is); ``None`` if neither."""
    if isinstance(model, Mapping):
        return dict(model)
    to_schema = getattr(model, "model_json_schema", None)
    if callable(to_schema):
        try:
            schema = to_schema()
        except Exception:  # a model pydantic cannot describe: fall back to a free JSON field
            return None
        return dict(schema) if isinstance(schema, Mapping) else None
    try:
        from pydantic import TypeAdapter

        return dict(TypeAdapter(model).json_schema()) if model is not Any else None
    except Exception:  # not a type pydantic knows (Any, a bare class): no schema
        return None


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """Follow one ``$ref`` into ``$defs`` (pydantic puts enums and nested models there)."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.rsplit("/", 1)[-1], {})
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return merged
    return dict(node)


def _unwrap_optional(node: dict[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """``X | None`` is ``anyOf: [X, {"type": "null"}]``: the field is X and may be left empty."""
    options = node.get("anyOf")
    if not isinstance(options, list):
        return node, False
    kept = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
    if len(kept) == 1 and isinstance(kept[0], Mapping):
        inner = _resolve(kept[0], defs)
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return {**inner, **rest}, len(kept) < len(options)
    return node, len(kept) < len(options)


def field_of(name: str, node: Mapping[str, Any], *, required: bool, defs: Mapping[str, Any]) -> dict[str, Any]:
    """One field: its ``kind``, label, whether it is required, its default and constraints."""
    resolved, nullable = _unwrap_optional(_resolve(node, defs), defs)
    kind = "json"
    typ = resolved.get("type")
    field: dict[str, Any] = {
        "name": name,
        "label": str(resolved.get("title") or name.replace("_", " ").capitalize()),
        "required": required and not nullable,
        "nullable": nullable,
        "description": str(resolved.get("description") or ""),
    }
    if "default" in resolved:
        field["default"] = resolved["default"]
    if "enum" in resolved and isinstance(resolved["enum"], list):
        kind = "select"
        field["options"] = list(resolved["enum"])
    elif "const" in resolved:
        kind = "select"
        field["options"] = [resolved["const"]]
    elif typ == "boolean":
        kind = "checkbox"
    elif typ in ("integer", "number"):
        kind = str(typ)
        for key, out in (("minimum", "min"), ("maximum", "max"), ("exclusiveMinimum", "min"),
                         ("exclusiveMaximum", "max"), ("multipleOf", "step")):
            if key in resolved:
                field[out] = resolved[key]
    elif typ == "string":
        kind = _FORMATS.get(str(resolved.get("format", "")), "text")
        if kind in ("email", "url"):
            kind = "text"
            field["format"] = resolved["format"]
        max_length = resolved.get("maxLength")
        if kind == "text" and (max_length is None or int(max_length) > _LONG_TEXT) and _looks_long(name, resolved):
            kind = "textarea"
        for key, out in (("minLength", "min_length"), ("maxLength", "max_length"), ("pattern", "pattern")):
            if key in resolved:
                field[out] = resolved[key]
    field["kind"] = kind
    return field


def _looks_long(name: str, node: Mapping[str, Any]) -> bool:
    """Free text (a comment, a reason, a description) gets a text area; short strings a line."""
    words = ("comment", "reason", "description", "notes", "note", "message", "text", "body", "justification")
    return name.lower() in words or str(node.get("format", "")) == "textarea"


def form_fields(schema: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The fields of an object schema, in declaration order; a non-object schema is one ``json`` field."""
    if not schema:
        return []
    defs = schema.get("$defs") or {}
    root = _resolve(schema, defs)
    properties = root.get("properties")
    if root.get("type") != "object" or not isinstance(properties, Mapping):
        return [{"name": "", "label": str(root.get("title") or "value"), "kind": "json", "required": True,
                 "nullable": False, "description": ""}]
    required = set(root.get("required") or ())
    return [field_of(str(n), p, required=n in required, defs=defs) for n, p in properties.items()
            if isinstance(p, Mapping)]


def example_of(schema: Mapping[str, Any] | None) -> Any:
    """A skeleton value for a schema (defaults where given): the start form's prefilled JSON."""
    if not schema:
        return {}
    return _example(schema, schema.get("$defs") or {}, depth=0)


def _example(node: Mapping[str, Any], defs: Mapping[str, Any], depth: int) -> Any:
    resolved, nullable = _unwrap_optional(_resolve(node, defs), defs)
    if "default" in resolved:
        return resolved["default"]
    if nullable or depth > 6:
        return None
    if isinstance(resolved.get("enum"), list) and resolved["enum"]:
        return resolved["enum"][0]
    typ = resolved.get("type")
    if typ == "object" or isinstance(resolved.get("properties"), Mapping):
        props = resolved.get("properties") or {}
        return {str(k): _example(v, defs, depth + 1) for k, v in props.items() if isinstance(v, Mapping)}
    examples = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}
    return examples.get(str(typ))
