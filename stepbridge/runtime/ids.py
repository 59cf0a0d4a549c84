"""Random ids (event ids, unnamed execution ids, queue message ids) from one replaceable source.

In AWS every id is a fresh ``uuid4``. LocalCloud installs a seeded source for its lifetime, so a
run on the memory backend is reproducible bit for bit: event ids decide triggered executions' ids,
which decide their order in the ``by-status`` index, which decides the order of a sweep, which
decides the fault draws that follow.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

_sources: list[Callable[[], uuid.UUID]] = [uuid.uuid4]


def new_uuid() -> uuid.UUID:
    """A random UUID (version 4) from the installed source."""
    return _sources[-1]()


def new_id() -> str:
    """``str(new_uuid())``."""
    return str(new_uuid())


def seeded(seed: int | str) -> Callable[[], uuid.UUID]:
    """A reproducible source of version-4 UUIDs."""
    rng = random.Random(seed)
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)


def install(source: Callable[[], uuid.UUID]) -> Callable[[], None]:
    """Use ``source`` until the returned function is called (nested installs unwind in any order)."""
    _sources.append(source)

    def restore() -> None:
        if source in _sources:
            _sources.remove(source)

    return restore
