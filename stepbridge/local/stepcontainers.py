"""The declared steps' Lambda containers in LocalCloud: one warm container per step function.

In AWS an asynchronous Invoke hands the step function its event as JSON (no object is shared with
the caller), and the handler runs it in the function's environment with its IAM role. LocalCloud
delivers invokes one at a time in-process, so one warm container per function is what Lambda would
keep: each has a long-lived virtual-time loop (``runtime.loops.ContainerLoop``) instead of a loop
created and closed per invocation, which was most of the cost of emulating a 1,000-way gather's
step Lambdas (issue 17: closing a loop walked every task of the process, including a parked
gather's 1,000). An invocation still ends as on a fresh loop (leftover tasks cancelled, timers
dropped); a container whose invocation crashed (``Crash``) is dropped with its loop, as it dies.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from stepbridge.handlers import step as step_handler
from stepbridge.handlers.env import Environment
from stepbridge.runtime.loops import ContainerLoop, close_loop
from stepbridge.runtime.records import StepInvocation


class StepContainers:
    """The warm containers of the app's step functions (by step name), each with its own loop."""

    def __init__(self) -> None:
        self._loops: dict[str, ContainerLoop] = {}
        #: The Invoke payloads sent and not yet delivered, by ``id`` of the queued invocation (kept alive here).
        self._payloads: dict[int, tuple[StepInvocation, bytes]] = {}

    def sent(self, invocation: StepInvocation, payload: bytes) -> None:
        """The Invoke request's payload (already serialized for Lambda's size check): delivered as it is."""
        self._payloads[id(invocation)] = (invocation, payload)

    def loop(self, step: str) -> ContainerLoop:
        """The container's loop (a new container if it has none, or its loop was closed or stopped by user code)."""
        loop = self._loops.get(step)
        if loop is None or not loop.usable():
            loop = self._loops[step] = ContainerLoop()
        return loop

    def run(self, env: Environment, invocation: StepInvocation, context: object) -> dict[str, object]:
        """One invocation: the event as Lambda hands it over (a JSON document), on the function's warm loop."""
        sent = self._payloads.pop(id(invocation), None)
        payload = sent[1] if sent is not None and sent[0] is invocation else json.dumps(invocation.to_dict())
        event: dict[str, Any] = json.loads(payload)
        loop = self.loop(invocation.step)
        try:
            return step_handler.handle(event, dataclasses.replace(env, loop_factory=lambda: loop), context)
        except BaseException:
            self.discard(invocation.step)  # the container died (Crash) or the invocation failed: start cold
            raise

    def discard(self, step: str) -> None:
        """Drop a container (its loop is closed)."""
        loop = self._loops.pop(step, None)
        if loop is not None and not loop.is_closed() and not loop.is_running():
            close_loop(loop)

    def close(self) -> None:
        """Drop every container (``LocalCloud.stop``)."""
        for step in list(self._loops):
            self.discard(step)
        self._payloads.clear()
