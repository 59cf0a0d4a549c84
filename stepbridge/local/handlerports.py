"""What LocalCloud hands to the code it runs: the handlers' ``Effects`` port, the client's driver and
the Lambda context a step sees.

Each is a thin adapter onto ``LocalCloud``'s public methods, so the cloud's private state is changed
only by the cloud itself (tests/unit/test_single_sources.py checks the effects adapter).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from stepbridge.errors import ExecutionNotFound
from stepbridge.local.clock import VirtualClock
from stepbridge.runtime.ids import new_id
from stepbridge.runtime.messages import WorkMessage
from stepbridge.runtime.records import Event, StepInvocation, WakeMessage

if TYPE_CHECKING:
    from stepbridge.client import Client, ExecutionDescription


class Cloud(Protocol):
    """What the adapters use of ``stepbridge.local.cloud.LocalCloud`` (a Protocol: no import cycle)."""

    clock: VirtualClock
    eager: bool

    def effect_send(self, message: WorkMessage) -> None: ...
    def effect_invoke(self, invocation: StepInvocation) -> None: ...
    def effect_call_step(self, invocation: StepInvocation) -> WakeMessage | None: ...
    def effect_set_timer(self, name: str, at: datetime, message: WorkMessage) -> None: ...
    def effect_cancel_timer(self, name: str) -> None: ...
    def effect_publish(self, events: Sequence[Event]) -> None: ...
    def run_until_idle(self) -> int: ...
    def settle(self) -> int: ...
    def run_until_complete(
        self,
        execution_id: str,
        *,
        timeout: float | None = None,
        max_skip_days: float = 400,
        read: Callable[[], tuple[str | None, Any]] | None = None,
    ) -> Any: ...


class LocalEffects:
    """The ``Effects`` port of handler code in LocalCloud: each call is one of LocalCloud's ``effect_*`` methods."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud

    def now(self) -> datetime:
        return self._cloud.clock.now()

    def wake(self, message: WorkMessage) -> None:
        self._cloud.effect_send(message)

    def invoke_step(self, invocation: StepInvocation) -> None:
        self._cloud.effect_invoke(invocation)

    def call_step(self, invocation: StepInvocation) -> WakeMessage | None:
        return self._cloud.effect_call_step(invocation)

    def schedule_timer(self, name: str, at: datetime, message: WorkMessage) -> None:
        self._cloud.effect_set_timer(name, at, message)

    def cancel_timer(self, name: str) -> None:
        self._cloud.effect_cancel_timer(name)

    def publish(self, events: Sequence[Event]) -> None:
        self._cloud.effect_publish(events)


class LocalDriver:
    """Client driver: settle = run until idle (when eager); wait = run with time skipping."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud

    def settle(self) -> None:
        if self._cloud.eager:
            self._cloud.settle()  # the client's own sends went through the cloud's effects

    def wait(self, client: Client, execution_id: str, timeout: float | None) -> ExecutionDescription | None:
        """Run the cloud until the execution ends; returns its final description (``result()`` reads no more)."""

        def read() -> tuple[str | None, ExecutionDescription | None]:
            try:
                desc = client.describe(execution_id)
            except ExecutionNotFound:
                return None, None
            return desc.status, desc

        final: ExecutionDescription | None = self._cloud.run_until_complete(execution_id, timeout=timeout, read=read)
        return final


@dataclass
class LocalLambdaContext:
    """The Lambda context a step sees under LocalCloud (``step_context().lambda_context``).

    Time is virtual, so the remaining time is always the whole timeout.
    """

    function_name: str
    timeout: float
    aws_request_id: str = field(default_factory=lambda: new_id())
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (virtual) timeout."""
        return int(self.timeout * 1000)


class Counter(dict[str, int]):
    """Counts by name that start at 0 (``cloud.calls``, ``cloud.crashes``)."""

    def __missing__(self, key: str) -> int:
        return 0
