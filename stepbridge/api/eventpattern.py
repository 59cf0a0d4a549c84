"""EventBridge event patterns: the grammar AWS accepts, checked when a trigger is declared.

EventBridge rejects a bad pattern at deploy time (``PutRule``: InvalidEventPatternException); a
pattern that only *looks* right (``{"numeric": [">", "abc"]}``) would fail the stack. This module
checks a pattern against the grammar of "Content filtering in Amazon EventBridge event patterns"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html)
and the rule compiler EventBridge runs (aws/event-ruler, ``JsonRuleCompiler``):

* a pattern is a non-empty object; each field maps to a nested object or a non-empty array;
* array items are strings, numbers, ``true``/``false``/``null`` or one-key matcher objects:
  ``prefix``/``suffix`` (a string, or ``{"equals-ignore-case": str}``), ``equals-ignore-case``,
  ``wildcard`` (no ``**``; ``\\`` escapes only ``*`` and ``\\``), ``anything-but`` (a string, a number,
  a list of all strings or all numbers, or ``{"prefix"|"suffix"|"equals-ignore-case"|"wildcard": str
  or [str, ...]}``), ``numeric`` (``[op, n]`` or ``[">"|">=", n, "<"|"<=", m]``; numbers only),
  ``exists`` (``true``/``false``), ``cidr`` (IPv4 mask 0-31, IPv6 0-127, as event-ruler);
* ``"$or": [{...}, {...}, ...]`` takes at least two non-empty objects whose fields are not matcher names;
* the whole pattern is at most 2,048 characters (EventBridge quota "Event pattern size", adjustable).

Errors name the trigger and the path of the bad rule, e.g. ``detail.amount[0].numeric``.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping
from typing import Any

from stepbridge.errors import WorkflowDefinitionError

#: EventBridge quota "Event pattern size": 2,048 characters by default (adjustable to 4,096 on request).
EVENT_PATTERN_MAX_CHARS = 2048
#: Matcher names EventBridge documents (a one-key object in a field's array).
OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr")
_ANYTHING_BUT_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
#: Field names event-ruler refuses inside ``$or`` (matcher and comparison names, and ones it reserves).
_RESERVED_IN_OR = frozenset((*OPERATORS, "exactly", *_NUMERIC_OPERATORS, "regex", "not-wildcard",
                             "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
                             "date-on-or-before", "in-date-range", "cidr"))


class PatternError(ValueError):
    """One grammar violation at ``path`` (the caller adds which trigger it belongs to)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def trigger_pattern(
    event_types: tuple[str, ...] | list[str],
    content_filter: Mapping[str, object] | None,
    sources: tuple[str, ...] | list[str] | None = None,
) -> dict[str, object]:
    """The event pattern of a trigger rule: its detail-types, its ``sources`` (``app.on(sources=)``: only
    these producers start it) and its ``filter`` on ``detail`` (a JSON copy)."""
    pattern: dict[str, object] = {"detail-type": list(event_types)}
    if sources is not None:
        pattern["source"] = list(sources)
    if content_filter is not None:
        pattern["detail"] = json.loads(json.dumps(content_filter))
    return pattern


def check_event_pattern(pattern: object, *, where: str) -> None:
    """Raise :class:`WorkflowDefinitionError` naming ``where`` and the rule's path when EventBridge would
    reject ``pattern``."""
    try:
        validate(pattern)
    except PatternError as exc:
        raise WorkflowDefinitionError(
            f"{where}: invalid EventBridge event pattern at {exc.path}: {exc.problem} "
            "(see 'Content filtering in Amazon EventBridge event patterns')"
        ) from None


def validate(pattern: object, path: str = "") -> None:
    """Check ``pattern`` (a whole event pattern, or a ``filter`` under ``path``); raise :class:`PatternError`."""
    _object(pattern, path or "pattern", in_or=False)
    try:
        size = len(json.dumps(pattern, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PatternError(path or "pattern", f"is not JSON ({exc})") from None
    if not path and size > EVENT_PATTERN_MAX_CHARS:
        raise PatternError("pattern", f"is {size} characters, over EventBridge's {EVENT_PATTERN_MAX_CHARS}-character "
                           "event pattern quota; match fewer values or split the trigger")


def _join(path: str, key: str) -> str:
    return key if path in ("", "pattern") else f"{path}.{key}"


def _object(node: object, path: str, *, in_or: bool) -> None:
    if not isinstance(node, Mapping):
        raise PatternError(path, f"must be an object, got {_kind(node)}")
    if not node:
        raise PatternError(path, "is an empty object (EventBridge does not allow empty objects)")
    for key, value in node.items():
        if not isinstance(key, str):
            raise PatternError(path, f"field names must be strings, got {key!r}")
        here = _join(path, key)
        if key == "$or":
            _or(value, here)
            continue
        if in_or and key in _RESERVED_IN_OR:
            raise PatternError(here, f"'{key}' is a matcher name and cannot be a field inside $or; "
                               f"put it in a list: {{\"field\": [{{\"{key}\": ...}}]}}")
        if isinstance(value, Mapping):
            _object(value, here, in_or=in_or)
        elif isinstance(value, list | tuple):
            _values(value, here)
        else:
            raise PatternError(here, "must be an object or a non-empty list of values or matchers, "
                               f"got {_kind(value)}; "
                               f"e.g. [{json.dumps(value) if _is_scalar(value) else '...'}]")


def _or(value: object, path: str) -> None:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise PatternError(path, "must be a list of at least two objects, e.g. [{\"a\": [1]}, {\"b\": [2]}]")
    for index, branch in enumerate(value):
        _object(branch, f"{path}[{index}]", in_or=True)


def _values(values: list[object] | tuple[object, ...], path: str) -> None:
    if not values:
        raise PatternError(path, "is an empty list (EventBridge does not allow empty arrays)")
    for index, item in enumerate(values):
        here = f"{path}[{index}]"
        if isinstance(item, Mapping):
            _matcher(item, here)
        elif not _is_scalar(item):
            raise PatternError(here, "must be a string, number, true, false, null or a matcher object, "
                               f"got {_kind(item)}")
        elif isinstance(item, float) and not math.isfinite(item):
            raise PatternError(here, "must be a finite number")


def _matcher(item: Mapping[object, object], path: str) -> None:
    if len(item) != 1:
        raise PatternError(path, f"a matcher object has exactly one key, got {sorted(map(str, item)) or 'none'}")
    name, operand = next(iter(item.items()))
    here = f"{path}.{name}"
    if name in ("prefix", "suffix"):
        if isinstance(operand, Mapping):
            _one_key(operand, here, "equals-ignore-case", f"{{\"{name}\": {{\"equals-ignore-case\": \"...\"}}}}")
            _string(operand["equals-ignore-case"], f"{here}.equals-ignore-case")
        else:
            _string(operand, here)
    elif name == "equals-ignore-case":
        _string(operand, here)
    elif name == "wildcard":
        _wildcard(operand, here)
    elif name == "anything-but":
        _anything_but(operand, here)
    elif name == "numeric":
        _numeric(operand, here)
    elif name == "exists":
        if not isinstance(operand, bool):
            raise PatternError(here, f"must be true or false, got {_kind(operand)}")
    elif name == "cidr":
        _cidr(operand, here)
    else:
        raise PatternError(path, f"unknown matcher {str(name)!r}; EventBridge knows {', '.join(OPERATORS)}")


def _one_key(operand: Mapping[object, object], path: str, key: str, example: str) -> None:
    if list(operand) != [key]:
        raise PatternError(path, f"takes a string or exactly {example}, got keys {sorted(map(str, operand))}")


def _anything_but(operand: object, path: str) -> None:
    if isinstance(operand, Mapping):
        if len(operand) != 1 or next(iter(operand)) not in _ANYTHING_BUT_OPERATORS:
            raise PatternError(path, f"an object here takes one of {', '.join(_ANYTHING_BUT_OPERATORS)}, "
                               f"got keys {sorted(map(str, operand))}")
        name, inner = next(iter(operand.items()))
        here = f"{path}.{name}"
        items = list(inner) if isinstance(inner, list | tuple) else [inner]
        if not items:
            raise PatternError(here, "is an empty list")
        for index, value in enumerate(items):
            at = f"{here}[{index}]" if isinstance(inner, list | tuple) else here
            if name == "wildcard":
                _wildcard(value, at)
            else:
                _string(value, at)
                if name in ("prefix", "suffix") and not value:
                    raise PatternError(at, f"an empty {name} is not allowed")
        return
    if isinstance(operand, list | tuple):
        if not operand:
            raise PatternError(path, "is an empty list")
        if all(isinstance(v, str) for v in operand) or all(_is_number(v) for v in operand):
            return
        raise PatternError(path, "a list must hold only strings or only numbers (no mixing, no null or booleans), "
                           f"got {json.dumps(operand, default=str)}")
    if not (isinstance(operand, str) or _is_number(operand)):
        raise PatternError(path, f"must be a string, a number, a list of them, or {{\"prefix\": ...}}-style object, "
                           f"got {_kind(operand)}")


def _numeric(operand: object, path: str) -> None:
    example = "e.g. [\">\", 0, \"<=\", 5] or [\"=\", 100]"
    if not isinstance(operand, list | tuple) or len(operand) not in (2, 4):
        raise PatternError(path, f"must be a list [operator, number] or a range of two, {example}")
    for index in range(0, len(operand), 2):
        op, number = operand[index], operand[index + 1]
        if op not in _NUMERIC_OPERATORS:
            raise PatternError(f"{path}[{index}]", f"unknown numeric operator {op!r}; use one of "
                               f"{', '.join(_NUMERIC_OPERATORS)}")
        if not _is_number(number) or not math.isfinite(number):
            raise PatternError(f"{path}[{index + 1}]", f"the operand of {op!r} must be a number, got {_kind(number)}")
    if len(operand) == 4 and (operand[0] not in (">", ">=") or operand[2] not in ("<", "<=")):
        raise PatternError(path, f"a range is a lower bound ('>' or '>=') then an upper bound ('<' or '<='), {example}")


def _wildcard(operand: Any, path: str) -> None:
    _string(operand, path)
    index = 0
    while index < len(operand):
        char = operand[index]
        if char == "*" and operand[index + 1:index + 2] == "*":
            raise PatternError(path, f"consecutive wildcard characters at position {index} are not allowed")
        if char == "\\":
            if operand[index + 1:index + 2] not in ("*", "\\"):
                raise PatternError(path, f"invalid escape at position {index}: a backslash escapes only '*' or '\\'")
            index += 1
        index += 1


def _cidr(operand: Any, path: str) -> None:
    _string(operand, path)
    address, slash, bits = operand.partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise PatternError(path, f"{operand!r} is not an IPv4 or IPv6 CIDR block such as '10.0.0.0/24'") from None
    top = 31 if ip.version == 4 else 127  # event-ruler: "IPv4 mask bits must be < 32", "IPv6 ... < 128"
    if not slash or not bits.isascii() or not bits.isdigit() or int(bits) > top:
        raise PatternError(path, f"{operand!r} needs a mask of 0-{top} bits after '/', e.g. '10.0.0.0/24'")


def _string(value: object, path: str) -> None:
    if not isinstance(value, str):
        raise PatternError(path, f"must be a string, got {_kind(value)}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if _is_number(value):
        return f"the number {value!r}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


__all__ = [
    "EVENT_PATTERN_MAX_CHARS", "OPERATORS", "PatternError", "check_event_pattern", "trigger_pattern", "validate",
]
