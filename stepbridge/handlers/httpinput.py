"""Parsing of untrusted JSON from HTTP requests (API bodies and webhook payloads).

Python's ``json.loads`` accepts what JSON does not (``NaN``, ``Infinity``, ``-Infinity``) and
raises ``RecursionError`` - not ``ValueError`` - on deeply nested input, which a handler would
answer with a 500. Everything here raises :class:`BadJson` with a one-line message instead, so
the API answers 400 and starts nothing.

Number semantics (documented in docs/API.md): ``1`` and ``1.0`` are different JSON texts, and
Python keeps them as ``int`` and ``float``; but they compare equal and the canonical JSON of an
input (``runtime.codec.dumps``, which the idempotent-start check and the cache key hash) keeps
the spelling, so ``{"n": 1}`` and ``{"n": 1.0}`` are *different* inputs for an idempotent start
by execution id (409) and for workflow/step caching.
"""

from __future__ import annotations

import json

#: Deepest nesting of arrays/objects accepted in a request body. The C JSON decoder recurses once
#: per level and Python's default recursion limit is 1,000 frames, shared with the handler's own
#: stack (Powertools routing, pydantic validation, canonical dumps for hashing): 1,000 levels would
#: fail later with a 500. No business payload needs more than a few dozen levels (DynamoDB's own
#: document types stop at 32, "Nested attribute depth" in the DynamoDB quotas).
MAX_JSON_DEPTH = 128


class BadJson(ValueError):
    """The body is not acceptable JSON; ``code`` is the API error code (``invalid_json``)."""

    code = "invalid_json"


def _refuse_constant(name: str) -> object:
    raise BadJson(f"{name} is not valid JSON (JSON numbers are finite); send a number or null")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadJson(f"the number {text[:40]} overflows to Infinity; JSON numbers here must be finite doubles")
    return value


def _depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets nest deeper than ``limit`` (strings skipped); linear, no recursion."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def loads(raw: bytes | str, *, what: str = "the request body") -> object:
    """Parse untrusted JSON; :class:`BadJson` for invalid text, ``NaN``/``Infinity`` or too deep nesting."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError as exc:
        raise BadJson(f"{what} is not valid JSON: it is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    # Cheap pre-check: only texts with enough brackets can be too deep.
    if (text.count("[") + text.count("{")) > MAX_JSON_DEPTH and _depth_exceeds(text, MAX_JSON_DEPTH):
        raise BadJson(f"{what} nests arrays/objects deeper than {MAX_JSON_DEPTH} levels; flatten it")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadJson as exc:
        raise BadJson(f"{what}: {exc}") from None
    except RecursionError:  # pragma: no cover - the depth check above comes first
        raise BadJson(f"{what} nests arrays/objects too deeply; flatten it") from None
    except ValueError as exc:
        raise BadJson(f"{what} is not valid JSON: {exc}") from None


__all__ = ["MAX_JSON_DEPTH", "BadJson", "loads"]
