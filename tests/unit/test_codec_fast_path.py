"""The codec's fast path for plain JSON values (runtime/codec.py ``_plain_copy``) stores exactly what the
general conversion (pydantic, after marking bytes) stores: same JSON text, same Python types, fresh copies.
Everything else still goes the general way."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from stepbridge.errors import ResultNotSerializable
from stepbridge.runtime import codec
from stepbridge.runtime.canonical import dumps


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    label: str
    raw: bytes = b"\xff\x00"


class Model(pydantic.BaseModel):
    id: uuid.UUID
    when: datetime
    tags: list[str]


@pydantic.dataclasses.dataclass
class PydanticPoint:
    x: int


class Text(str):
    pass


PLAIN: list[Any] = [
    None, True, False, 0, -1, 2**100, 1.5, -0.0, float("inf"), float("-inf"), "", "text", "näive ☃ 𝄞", "\ud800",
    [], {}, (), [1, "a", None, [2.5, [True]]], {"a": {"b": [1, {"c": None}]}, "z": 1, "m": "é"},
    (1, (2, 3), [4]), {"t": (1, 2)}, [{"k": ("v", {"w": []})}],
]
GENERAL: list[Any] = [
    b"utf-8 bytes", b"\xff\xfe", bytearray(b"\x00\x80"), [b"\xff", b"ok"], {"raw": b"\x00\xff"},
    Point(1, "p"), [Point(2, "q")], {"nested": {"points": (Point(3, "r"),)}},
    Model(id=uuid.UUID(int=7), when=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), tags=["x"]), PydanticPoint(x=4),
    {1: "int key"}, {None: 1}, {True: "bool key"}, {1.5: "float key"}, {Color.RED: "enum key"},
    Color.RED, Level.HIGH, Text("str subclass"), [Color.RED, Level.HIGH], {1, 2, 3}, frozenset({"a"}),
    Decimal("1.10"), datetime(2026, 12, 5, tzinfo=UTC), uuid.UUID(int=1), {"deep": [{"when": datetime(2026, 1, 1)}]},
]


def _shape(value: Any) -> Any:
    """The value with every leaf's exact type next to it (``1 == True`` and ``1 == 1.0`` must not pass)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize("value", PLAIN + GENERAL, ids=repr)
def test_fast_path_stores_what_the_general_conversion_stores(value: Any) -> None:
    fast = codec.to_json_value(value, what="v")
    slow = codec._jsonable(value, "v")
    assert _shape(fast) == _shape(slow)
    assert json.dumps(fast, ensure_ascii=False) == json.dumps(slow, ensure_ascii=False)  # key order too
    if not (isinstance(fast, float) and math.isnan(fast)):
        assert dumps(fast) == dumps(slow)  # the stored text


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_values_never_reach_the_general_conversion(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def general(value: Any, what: str) -> Any:
        raise AssertionError(f"general conversion of plain {value!r}")

    monkeypatch.setattr(codec, "_jsonable", general)
    assert json.dumps(codec.to_json_value(value, what="v")) == json.dumps(value)  # (tuples become lists)


@pytest.mark.parametrize("value", GENERAL, ids=repr)
def test_other_values_take_the_general_conversion(value: Any) -> None:
    assert codec._plain_copy(value) is codec._NOT_PLAIN


def test_containers_are_copied_so_the_record_shares_nothing_with_the_caller() -> None:
    inner = [1, 2]
    value = {"inner": inner, "t": (inner,)}
    stored = codec.to_json_value(value, what="v")
    inner.append(3)
    assert stored == {"inner": [1, 2], "t": [[1, 2]]}
    assert stored is not value


def test_nan_is_kept_as_the_general_conversion_keeps_it() -> None:
    stored = codec.to_json_value([float("nan")], what="v")
    assert math.isnan(stored[0]) and type(stored[0]) is float


def test_values_nested_too_deep_for_the_walk_fall_back_and_keep_their_error() -> None:
    deep: Any = "leaf"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises((ResultNotSerializable, RecursionError)):
        codec.to_json_value(deep, what="the result of step 'deep'")


def test_unserializable_values_inside_plain_containers_still_name_the_value() -> None:
    with pytest.raises(ResultNotSerializable, match="the result of step 's' is a dict"):
        codec.to_json_value({"fn": object()}, what="the result of step 's'")
