"""Canonical JSON text: the one serialization used for hashing and size checks.

Its own module, below ``codec`` (which converts values and resolves claim checks) and ``limits``
(which sizes payloads), so that both can use it without importing each other.
"""

from __future__ import annotations

import json


def dumps(value: object) -> str:
    """Canonical JSON text: sorted keys, no spaces (used for hashing and size checks)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
