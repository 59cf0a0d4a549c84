"""Retention on the stored attribute maps (``App(retention=)``, ``runtime/retention.py``), shared by the
DynamoDB and in-memory stores so both write the same ``ttl`` attributes.

An item of an execution's partitions (header, journal, waiters) without a ``ttl`` of its own gets the
backstop expiry when written; a header written with a terminal status gets the precise one, ``retention``
after the end. Items with their own expiry (caches, the event log, idempotency records) keep it.
"""

from __future__ import annotations

import json
from datetime import datetime

from stepbridge.runtime import keys
from stepbridge.runtime.records import TERMINAL
from stepbridge.runtime.retention import EXECUTION_PARTITIONS, backstop, expiry

Attrs = dict[str, dict[str, str]]
TTL = "ttl"


def stamp(attrs: Attrs, retention: float | None, now: datetime) -> Attrs:
    """``attrs`` with a ``ttl`` under retention (a copy; unchanged without retention or with a ttl of its own)."""
    if retention is None or TTL in attrs or not attrs["pk"]["S"].startswith(EXECUTION_PARTITIONS):
        return attrs
    ended = attrs.get("status", {}).get("S") in TERMINAL and attrs["sk"]["S"] == keys.META
    ttl = expiry(now, retention) if ended else backstop(now, retention)
    return {**attrs, TTL: {"N": str(ttl)}}


def finished(attrs: Attrs, retention: float | None, now: datetime) -> Attrs:
    """A journal item of an execution that has just ended: it expires with the header, ``retention`` from now."""
    if retention is None:
        return attrs
    return {**attrs, TTL: {"N": str(expiry(now, retention))}}


def ends_with_journal(attrs: Attrs) -> bool:
    """A header written with a terminal status of an execution that started (so it may have a journal)."""
    if attrs["sk"]["S"] != keys.META or attrs.get("status", {}).get("S") not in TERMINAL:
        return False
    return json.loads(attrs["body"]["S"]).get("started_at") is not None
