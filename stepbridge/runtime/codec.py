"""JSON round-tripping of workflow inputs, step arguments and step results.

Values are stored as JSON (strings in DynamoDB), so a Decimal, datetime, dataclass or pydantic
model survives the trip and comes back as the type the function annotates. The same decoding
runs on the first execution and on replay, so user code sees identical values either way.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from typing import Any

import pydantic
import pydantic_core

from stepbridge.api.hints import type_hints
from stepbridge.errors import ResultNotSerializable


def to_json_value(value: object, *, what: str) -> object:
    """Convert ``value`` into JSON-compatible data; ``ResultNotSerializable`` names ``what`` otherwise."""
    try:
        return pydantic_core.to_jsonable_python(value)
    except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
        raise ResultNotSerializable(
            f"{what} is a {type(value).__name__}, which cannot be stored as JSON ({exc}); return plain data, "
            "a dataclass or a pydantic model instead"
        ) from None


@functools.lru_cache(maxsize=1024)
def _adapter(tp: object) -> pydantic.TypeAdapter[object]:
    return pydantic.TypeAdapter(tp)


def from_json_value(data: object, tp: object) -> object:
    """Coerce JSON data to ``tp`` (``Any``/missing annotations leave it as is)."""
    if tp is Any or tp is inspect.Parameter.empty or tp is None:
        return data
    try:
        return _adapter(tp).validate_python(data)
    except TypeError:  # unhashable or otherwise odd annotation: keep the raw data
        return data


def validate_input(data: object, tp: object) -> object:
    """Validate a workflow input against its annotation; raises ``pydantic.ValidationError``."""
    if tp is Any or tp is inspect.Parameter.empty:
        return data
    return _adapter(tp).validate_python(data)


def dumps(value: object) -> str:
    """Canonical JSON text: sorted keys, no spaces (used for hashing and size checks)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: object) -> str:
    """A stable hash of JSON data (cache keys, idempotent starts)."""
    return hashlib.sha256(dumps(value).encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1024)
def return_type(fn: Callable[..., object]) -> object:
    """The return annotation of ``fn`` (``Any`` when missing or unresolvable); unwraps coroutines."""
    return type_hints(fn).get("return", Any)


@functools.lru_cache(maxsize=1024)
def param_types(fn: Callable[..., object]) -> list[object]:
    """Annotated types of ``fn``'s positional parameters, ``Any`` where missing."""
    hints = type_hints(fn)
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    types: list[object] = []
    for p in params:
        types.append(hints.get(p.name, Any))
    return types


def decode_args(fn: Callable[..., object], args: list[object]) -> list[object]:
    """Coerce JSON step arguments to ``fn``'s parameter annotations."""
    types = param_types(fn)
    out = []
    for i, arg in enumerate(args):
        tp = types[i] if i < len(types) else (types[-1] if types else Any)
        out.append(from_json_value(arg, tp))
    return out
