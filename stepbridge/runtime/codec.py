"""JSON round-tripping of workflow inputs, step arguments and step results.

Values are stored as JSON (strings in DynamoDB), so a Decimal, datetime, dataclass or pydantic
model survives the trip and comes back as the type the function annotates. The same decoding
runs on the first execution and on replay, so user code sees identical values either way.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import pydantic
import pydantic_core

from stepbridge.api.hints import type_hints
from stepbridge.api.serde import Serde
from stepbridge.errors import ResultNotSerializable
from stepbridge.runtime import payloads
from stepbridge.runtime.canonical import dumps as dumps


def to_json_value(value: Any, *, what: str, serde: Serde | None = None) -> Any:
    """Convert ``value`` into JSON-compatible data; ``ResultNotSerializable`` names ``what`` otherwise.

    ``serde`` (``api/serde.py``) goes first; ``bytes`` that are UTF-8 stay plain text (the form stored
    before, so old and new journals read alike), other bytes become ``{"$stepbridge.bytes": "<base64url>"}``
    (:data:`BYTES_MARK`), which no text can be mistaken for; :func:`from_json_value` turns both back into
    bytes where the annotation says ``bytes``. A pydantic model's fields follow its own config.
    """
    if serde is not None:
        encoded = serde.encode(value)
        if encoded is not NotImplemented:
            value = encoded
    if type(value) in _SCALARS:  # most step results and arguments: nothing to convert, nothing to copy
        return value
    try:
        plain = _plain_copy(value)
    except RecursionError:  # nested deeper than a Python walk goes: pydantic's walk decides
        plain = _NOT_PLAIN
    return plain if plain is not _NOT_PLAIN else _jsonable(value, what)


def _jsonable(value: object, what: str) -> Any:
    """The general conversion (bytes, dataclasses, pydantic models, sets, enums, datetimes, ...)."""
    try:
        return pydantic_core.to_jsonable_python(_mark_bytes(value), bytes_mode="utf8")
    except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
        raise ResultNotSerializable(
            f"{what} is a {type(value).__name__}, which cannot be stored as JSON ({exc}); return plain data, "
            "a dataclass or a pydantic model instead"
        ) from None


#: Types whose values are JSON as they are. Exact types only: a subclass (an enum, a bool-like int) goes the
#: general way, which may convert it.
_SCALARS = frozenset({str, int, float, bool, type(None)})
#: What :func:`_plain_copy` returns for a value that is not plain JSON data.
_NOT_PLAIN = object()


def _plain_copy(value: object) -> object:
    """A copy of ``value`` when it is plain JSON data (exact ``str``/``int``/``float``/``bool``/``None``, and
    ``list``/``tuple``/``dict`` with ``str`` keys of such data), else :data:`_NOT_PLAIN`.

    It equals what the general conversion returns for such data (tuples become lists, containers are fresh
    copies, so the stored value shares nothing with the caller's), without walking it twice or asking
    ``is_dataclass`` of every leaf (``tests/unit/test_codec_fast_path.py`` compares both on a corpus).
    """
    if type(value) in _SCALARS:
        return value
    if type(value) is dict:
        out: dict[str, object] = {}
        for key, item in value.items():
            if type(key) is not str:
                return _NOT_PLAIN
            copied = item if type(item) in _SCALARS else _plain_copy(item)
            if copied is _NOT_PLAIN:
                return _NOT_PLAIN
            out[key] = copied
        return out
    if type(value) is list or type(value) is tuple:
        items: list[object] = []
        for item in value:
            copied = item if type(item) in _SCALARS else _plain_copy(item)
            if copied is _NOT_PLAIN:
                return _NOT_PLAIN
            items.append(copied)
        return items
    return _NOT_PLAIN


#: The one-key object that holds bytes that are not UTF-8, as base64url (``$stepbridge.`` like the claim
#: check's ``$stepbridge.payload``: user data does not use that prefix, and plain text never is an object).
BYTES_MARK = "$stepbridge.bytes"


def _mark_bytes(value: Any) -> Any:
    """``value`` with non-UTF-8 ``bytes`` replaced by :data:`BYTES_MARK` objects (containers and plain
    dataclasses walked; pydantic models and pydantic dataclasses are left to their own config)."""
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {BYTES_MARK: base64.urlsafe_b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: _mark_bytes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mark_bytes(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(type(value), "__pydantic_fields__"):
            return value
        return {f.name: _mark_bytes(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _unmark_bytes(data: Any) -> Any:
    """JSON ``data`` with :data:`BYTES_MARK` objects turned back into ``bytes`` (before validation)."""
    if isinstance(data, dict):
        if len(data) == 1 and isinstance(data.get(BYTES_MARK), str):
            try:
                return base64.urlsafe_b64decode(data[BYTES_MARK])
            except (binascii.Error, ValueError):
                return data
        return {k: _unmark_bytes(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_unmark_bytes(v) for v in data]
    return data


@functools.lru_cache(maxsize=1024)
def _adapter(tp: object) -> pydantic.TypeAdapter[object]:
    return pydantic.TypeAdapter(tp)


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


#: Annotations whose pydantic validator hands back an exact-type value itself (``int`` for an ``int``,
#: ``str`` for a ``str`` ...: same object, no copy, no check that can fail).
_SELF_VALIDATING = frozenset({str, int, float, bool})


def _typed(data: Any, tp: Any) -> Any:
    """Validate ``data`` as ``tp``: text where ``bytes`` are annotated is their UTF-8 (one reading for old
    and new data), a :data:`BYTES_MARK` object is base64url bytes.

    A value whose type is exactly its scalar annotation is returned as it is, without pydantic: that is
    what pydantic returns too (tests/unit/test_codec_decode_fast_path.py), and it spares every inline step a
    validator call and a container's first execution pydantic's ``TypeAdapter`` import and first schema
    build (about 30 ms, which the cost benchmark charged to its 20 inline steps)."""
    if tp is type(data) and tp in _SELF_VALIDATING:
        return data
    return _adapter(tp).validate_python(data if type(data) in _SCALARS else _unmark_bytes(data))


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


def decode_args(fn: Callable[..., Any], args: list[Any], serde: Serde | None = None) -> list[Any]:
    """Coerce JSON step arguments to ``fn``'s parameter annotations."""
    types = param_types(fn)
    out = []
    for i, arg in enumerate(args):
        tp = types[i] if i < len(types) else (types[-1] if types else Any)
        out.append(from_json_value(arg, tp, serde))
    return out
