"""Fault hook ``queue.visibility_expired``: a second orchestrator container gets a batch still being worked on.

SQS hides a received message for the queue's visibility timeout. A replay that takes longer (a
long inline step, a slow table) lets the message become visible again: another container of the
orchestrator receives it and replays the same execution while the first is still running. In
LocalCloud the second container's whole invocation runs between two calls of the first (at one of
its writes): the interleaving where the first one's view of the journal is most out of date.

The second invocation runs in a thread of its own (the first one's event loop is running in
this thread) while the first one waits, so the run stays deterministic.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from stepbridge.handlers import orchestrator as orchestrator_handler
from stepbridge.local.values import Crash
from stepbridge.runtime.journalcache import JournalCache

if TYPE_CHECKING:
    from stepbridge.local.cloud import LocalCloud


def run_second_copy(cloud: LocalCloud, records: list[dict[str, object]], busy: int) -> None:
    """Process ``records`` on another container than ``busy`` (a cold one when there is only one)."""
    faults = cloud.faults
    assert faults is not None
    caches = cloud.orchestrator_caches
    others = [i for i in range(len(caches)) if i != busy]
    cache = caches[others[cloud._container_rng.randrange(len(others))]] if others else JournalCache(sticky=cloud.sticky)
    saved = cloud.env.journal_cache
    outcome: dict[str, BaseException] = {}

    def second() -> None:
        try:
            with faults.invocation("orchestrator"):
                orchestrator_handler.handle({"Records": records}, cloud.env)
        except BaseException as exc:  # reported below, in the first container's thread
            outcome["error"] = exc

    cloud.env.journal_cache = cache
    try:
        worker = threading.Thread(target=second, name="stepbridge-second-container")
        worker.start()
        worker.join()
    finally:
        cloud.env.journal_cache = saved
    error = outcome.get("error")
    if error is not None or not others:
        # The second container died (or failed) with its memory, or it was a cold one made for this batch alone
        # (the cloud has one container): either way its parked workflows are closed now, not left to the cyclic
        # collector (which would end their coroutines, ``finally`` blocks included, at some later point).
        cache.clear()
    if error is not None:
        cloud.crashes["orchestrator"] += 1
        if not isinstance(error, Crash | Exception):
            raise error
