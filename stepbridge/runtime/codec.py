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
from stepbridge.api.serde import Serde
from stepbridge.errors import ResultNotSerializable
from stepbridge.runtime import payloads


def to_json_value(value: Any, *, what: str, serde: Serde | None = None) -> Any:
    """Convert ``value`` into JSON-compatible data; ``ResultNotSerializable`` names ``what`` otherwise.

    ``serde`` (``api/serde.py``) goes first; ``bytes`` become base64url text (any bytes, not only UTF-8),
    which :func:`from_json_value` turns back into bytes where the annotation says ``bytes``.
    """
    if serde is not None:
        encoded = serde.encode(value)
        if encoded is not NotImplemented:
            value = encoded
    try:
        return pydantic_core.to_jsonable_python(value, bytes_mode="base64")
    except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
        raise ResultNotSerializable(
            f"{what} is a {type(value).__name__}, which cannot be stored as JSON ({exc}); return plain data, "
            "a dataclass or a pydantic model instead"
        ) from None


@functools.lru_cache(maxsize=1024)
def _adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(tp)


#: Bytes are stored as base64url text (``to_json_value``); decoding reads them back as such.
_BYTES_CONFIG = pydantic.ConfigDict(val_json_bytes="base64")


@functools.lru_cache(maxsize=1024)
def _wrapped_adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    # A config cannot be given to a model's or dataclass's own adapter; inside a tuple it applies to the
    # dataclasses and containers below (a pydantic model keeps its own ``model_config``).
    return pydantic.TypeAdapter(tuple[tp], config=_BYTES_CONFIG)


def from_json_value(data: Any, tp: Any, serde: Serde | None = None) -> Any:
    """Coerce JSON data to ``tp`` (``Any``/missing annotations leave it as is); a claim check
    (``runtime/payloads.py``) is read back first, and ``serde`` decodes before the default."""
    data = payloads.resolve(data)
    if serde is not None:
        decoded = serde.decode(data, tp)
        if decoded is not NotImplemented:
            return decoded
    if tp is Any or tp is inspect.Parameter.empty or tp is None:
        return data
    try:
        return _typed(data, tp)
    except TypeError:  # unhashable or otherwise odd annotation: keep the raw data
        return data


def _typed(data: Any, tp: Any) -> Any:
    """Validate ``data`` as ``tp`` reading bytes as base64url; text stored before bytes were base64 (UTF-8)
    still validates through the plain adapter, which also gives the error of data that fits neither."""
    try:
        return _wrapped_adapter(tp).validate_python((data,))[0]
    except pydantic.ValidationError:
        return _adapter(tp).validate_python(data)


def validate_input(data: Any, tp: Any, serde: Serde | None = None) -> Any:
    """Validate a workflow input against its annotation; raises ``pydantic.ValidationError``."""
    data = payloads.resolve(data)
    if serde is not None:
        decoded = serde.decode(data, tp)
        if decoded is not NotImplemented:
            return decoded
    if tp is Any or tp is inspect.Parameter.empty:
        return data
    return _typed(data, tp)


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces (used for hashing and size checks)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any) -> str:
    """A stable hash of JSON data (cache keys, idempotent starts)."""
    return hashlib.sha256(dumps(value).encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1024)
def return_type(fn: Callable[..., Any]) -> Any:
    """The return annotation of ``fn`` (``Any`` when missing or unresolvable); unwraps coroutines."""
    return type_hints(fn).get("return", Any)


@functools.lru_cache(maxsize=1024)
def param_types(fn: Callable[..., Any]) -> list[Any]:
    """Annotated types of ``fn``'s positional parameters, ``Any`` where missing."""
    hints = type_hints(fn)
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    types: list[Any] = []
    for p in params:
        types.append(hints.get(p.name, Any))
    return types


def decode_args(fn: Callable[..., Any], args: list[Any], serde: Serde | None = None) -> list[Any]:
    """Coerce JSON step arguments to ``fn``'s parameter annotations."""
    types = param_types(fn)
    out = []
    for i, arg in enumerate(args):
        tp = types[i] if i < len(types) else (types[-1] if types else Any)
        out.append(from_json_value(arg, tp, serde))
    return out
