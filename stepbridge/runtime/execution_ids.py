"""Execution ids, and every id the engine derives from one, inside AWS's limits at any depth.

An execution id is the ``MessageGroupId`` of its wake-ups on the SQS FIFO work queue: at most 128
characters of letters, digits and punctuation (Amazon SQS API Reference, SendMessage,
``MessageGroupId``; docs/LIMITS.md). It is also part of DynamoDB keys (``EXEC#{id}``, a waiter's
``{id}#{op}``), which its length bounds. Ids derived from an id (a child's ``{parent}.{op}``,
``continue_as_new``'s ``{id}~{n}``) keep that readable form while it fits; only a form that
would be too long or hold other characters is shortened to a readable prefix plus a hash of the
whole form. So derived ids are deterministic (a replay derives the same id), distinct for
distinct inputs, and short ids look exactly as they always did.
"""

from __future__ import annotations

import hashlib
import re

# (re-exported: key builders live in runtime/keys.py)
from stepbridge.runtime.keys import MAX_KEY_PART_BYTES as MAX_KEY_PART_BYTES
from stepbridge.runtime.keys import fit_key as fit_key

#: Longest execution id: SQS's MessageGroupId limit (128 characters), since the id is the group id.
MAX_EXECUTION_ID = 128
#: Characters of an execution id: a subset of what a MessageGroupId allows (alphanumerics and
#: punctuation) that is also safe in keys, URLs and logs.
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:~@")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9\-_.:~@]")
#: Hex digits of SHA-256 kept in a shortened id (80 bits: no collision among any realistic number of ids).
_HASH_HEX = 20
#: Room kept after a shortened base for the generation suffix ``~N`` (N up to 7 digits).
_GENERATION_ROOM = 8


def is_valid_execution_id(execution_id: object) -> bool:
    """Whether ``execution_id`` is 1-128 characters of ``[A-Za-z0-9-_.:~@]``."""
    return (
        isinstance(execution_id, str)
        and 0 < len(execution_id) <= MAX_EXECUTION_ID
        and not set(execution_id) - ID_CHARS
    )


def check_execution_id(execution_id: str) -> str:
    """Return a valid execution id unchanged, or raise ``ValueError`` saying what is allowed."""
    if not is_valid_execution_id(execution_id):
        raise ValueError(
            f"execution id {execution_id!r} is invalid: use 1-{MAX_EXECUTION_ID} letters, digits, "
            "'-', '_', '.', ':', '~' or '@' (it becomes the SQS message group id of the execution)"
        )
    return execution_id


def fit_id(candidate: str, max_length: int = MAX_EXECUTION_ID) -> str:
    """``candidate`` if it is a valid id of at most ``max_length`` characters, else a shortened form.

    The shortened form is the candidate with invalid characters replaced by ``_``, cut to leave room
    for ``-`` and 20 hex digits of the SHA-256 of the whole candidate: deterministic, distinct for
    distinct candidates, and still readable from the left.
    """
    if len(candidate) <= max_length and is_valid_execution_id(candidate):
        return candidate
    digest = hashlib.sha256(candidate.encode("utf-8")).hexdigest()[:_HASH_HEX]
    prefix = _BAD_CHARS.sub("_", candidate)[: max(max_length - 1 - _HASH_HEX, 0)]
    return f"{prefix}-{digest}" if prefix else digest[:max_length]


def child_execution_id(parent_id: str, op: str) -> str:
    """The default id of the child that operation ``op`` of execution ``parent_id`` starts."""
    return fit_id(f"{parent_id}.{op}")


def split_generation(execution_id: str) -> tuple[str, int]:
    """``("order-7", 3)`` for ``"order-7~3"``; an id without a ``~N`` suffix is generation 1."""
    base, _, generation = execution_id.rpartition("~")
    if not base or not generation.isdigit():
        return execution_id, 1
    return base, int(generation)


def next_generation_id(execution_id: str) -> str:
    """The id of the execution that ``ctx.continue_as_new`` starts from ``execution_id``: ``{base}~{n+1}``.

    When that would pass 128 characters the base is shortened once (with room for seven digits of
    generation), and later generations keep the shortened base, so the chain never grows.
    """
    base, generation = split_generation(execution_id)
    candidate = f"{base}~{generation + 1}"
    if len(candidate) <= MAX_EXECUTION_ID:
        return candidate
    suffix = f"~{generation + 1}"
    return fit_id(base, MAX_EXECUTION_ID - max(_GENERATION_ROOM, len(suffix))) + suffix


