"""EventBridge's event-pattern matching, for LocalCloud's rules (patterns checked by ``stepbridge.api.eventpattern``).

moto's matcher (``moto.events.models.EventPattern``, 5.2) covers most operators but differs from
EventBridge where it matters to a test: an unknown matcher matches everything, ``true`` equals ``1``
and satisfies ``numeric``, a non-number operand raises ``TypeError`` on every event, a CIDR with host
bits never matches, and nested patterns do not reach into arrays of objects. This matcher follows
"Content filtering in Amazon EventBridge event patterns" and event-ruler, EventBridge's engine:

* fields AND, values in a field's list OR, ``$or`` ORs whole sub-patterns;
* a leaf's values are the field's value, or the elements of an array (an event array matches if
  any element matches); objects are not leaf values (``exists: false`` matches a field that holds
  an object), and a nested pattern reaching an array of objects matches if one element matches it;
* exact values compare by JSON type (``1`` never equals ``true``, ``"5"`` never equals ``5``;
  ``300`` equals ``3.0e2``);
* ``prefix``/``suffix``/``equals-ignore-case``/``wildcard`` match strings only; ``numeric`` JSON
  numbers only; ``cidr`` IP address strings; ``exists`` presence of a leaf value; ``anything-but``
  matches a present value the inner matcher does not match (never a missing field).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

_NUMERIC = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def matches(pattern: Mapping[str, object], event: Mapping[str, object]) -> bool:
    """Whether ``event`` (a whole EventBridge event) matches ``pattern`` as EventBridge would decide."""
    return _object(pattern, event)


def _object(pattern: Mapping[str, Any], node: object) -> bool:
    fields = node if isinstance(node, Mapping) else {}
    for key, sub in pattern.items():
        if key == "$or":
            if not any(_object(branch, node) for branch in sub):
                return False
        elif isinstance(sub, Mapping):
            value = fields.get(key)
            if isinstance(value, list):  # reach into an array of objects: one element must match it all
                objects = [v for v in _flatten(value) if isinstance(v, Mapping)]
                if not any(_object(sub, v) for v in objects) and not (not objects and _object(sub, {})):
                    return False
            elif not _object(sub, value):
                return False
        elif not _leaf(sub, _leaf_values(fields, key)):
            return False
    return True


def _flatten(values: list[object]) -> list[object]:
    out: list[object] = []
    for v in values:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def _leaf_values(fields: Mapping[str, object], key: str) -> list[object]:
    """The leaf values of ``key``: none when absent or an object, the elements of an array."""
    if key not in fields:
        return []
    value = fields[key]
    values = _flatten(value) if isinstance(value, list) else [value]
    return [v for v in values if not isinstance(v, Mapping)]


def _leaf(filters: list[object], values: list[object]) -> bool:
    for f in filters:
        if isinstance(f, Mapping) and "exists" in f:
            if bool(values) == f["exists"]:
                return True
        elif any(_value(f, v) for v in values):
            return True
    return False


def _value(f: object, v: object) -> bool:
    """Whether one leaf value ``v`` satisfies one filter item ``f`` (an exact value or a matcher)."""
    if not isinstance(f, Mapping):
        return _equal(f, v)
    name, operand = next(iter(f.items()))
    if name == "anything-but":
        return not _any_of(operand, v)
    if name == "numeric":
        return _is_number(v) and all(_NUMERIC[operand[i]](v, operand[i + 1]) for i in range(0, len(operand), 2))
    if name == "cidr":
        return _in_cidr(v, operand)
    return isinstance(v, str) and _string_matcher(name, operand, v)


def _string_matcher(name: str, operand: Any, v: str) -> bool:
    if name == "prefix":
        if isinstance(operand, Mapping):
            return v.casefold().startswith(str(operand["equals-ignore-case"]).casefold())
        return v.startswith(operand)
    if name == "suffix":
        if isinstance(operand, Mapping):
            return v.casefold().endswith(str(operand["equals-ignore-case"]).casefold())
        return v.endswith(operand)
    if name == "equals-ignore-case":
        return v.casefold() == str(operand).casefold()
    if name == "wildcard":
        return _wildcard(operand).fullmatch(v) is not None
    return False  # an unknown matcher never matches (the grammar check rejects it first)


def _any_of(operand: object, v: object) -> bool:
    """The inner test of ``anything-but``: a value, a list of values, or ``{matcher: value or [values]}``."""
    if isinstance(operand, Mapping):
        name, inner = next(iter(operand.items()))
        items = inner if isinstance(inner, list | tuple) else [inner]
        return isinstance(v, str) and any(_string_matcher(name, item, v) for item in items)
    items = operand if isinstance(operand, list | tuple) else [operand]
    return any(_equal(item, v) for item in items)


def _equal(expected: Any, v: Any) -> bool:
    if _is_number(expected):
        return _is_number(v) and float(expected) == float(v)
    if isinstance(expected, str) and isinstance(v, str):
        return expected == v
    return type(expected) is type(v) and expected == v  # booleans and null


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _in_cidr(v: object, block: str) -> bool:
    if not isinstance(v, str):
        return False
    try:
        return ipaddress.ip_address(v) in ipaddress.ip_network(block, strict=False)
    except ValueError:
        return False


@lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; ``\\*`` a literal star, ``\\\\`` a literal backslash."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


__all__ = ["matches"]
