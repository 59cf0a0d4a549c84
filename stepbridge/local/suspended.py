"""What LocalCloud knows of the executions its orchestrator invocations left suspended, without reading.

``run_until_complete`` (what ``client.result()`` runs) read the header before each jump of the virtual
clock; for a sleep-then-wake that was one read (GetItem) while the execution certainly slept: the
orchestrator invocation LocalCloud had just made suspended it (issue 17: the 16th of 16 calls). A read is
skipped when the last orchestrator invocation for the execution left it suspended and the cloud's store
has had no call since.

Why that is enough: only an orchestrator writes a terminal status (``Orchestrator._finish_status``), and an
orchestrator runs on a delivery LocalCloud makes (which forgets what was known) or, when a test or an
operator tool in this process calls a handler directly, through the cloud's store (which moves its call
count). Another client's cancel is a flag plus a wake-up: the execution ends only when that wake-up is
delivered. How an invocation is known to have suspended: only a replay that suspends cleanly puts the
execution's journal copy back in the container's cache (``Orchestrator._suspended``); one that ended it,
found it ended or failed leaves none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def store_calls(store: Any) -> int:
    """Calls made on a store so far (``DynamoStore.calls`` by operation, ``InMemoryStore.calls`` reads and writes)."""
    counts: dict[str, int] = store.calls
    return sum(counts.values())


@dataclass
class Suspended:
    """Execution ids the last orchestrator invocation left suspended, each with the store's call count just after."""

    _known: dict[str, int] = field(default_factory=dict)

    def invoking(self, groups: Sequence[str]) -> None:
        """Before an orchestrator invocation of a batch of these message groups (an execution's group is its id):
        whatever it does to them, what was known is past."""
        for group in groups:
            self._known.pop(group, None)

    def invoked(self, groups: Sequence[str], succeeded: Sequence[bool], cache: Any, calls: int) -> None:
        """After it: note the executions whose message succeeded and whose journal copy is back in ``cache``."""
        if cache is None:
            return
        for group, ok in zip(groups, succeeded, strict=True):
            if ok and group in cache:
                self._known[group] = calls

    def known(self, execution_id: str, calls: int) -> bool:
        """Whether ``execution_id`` is certainly still running: noted suspended and the store has had no call since."""
        return self._known.get(execution_id) == calls

    def clear(self) -> None:
        """Forget everything (the cloud stopped)."""
        self._known.clear()
