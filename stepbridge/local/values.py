"""The small values LocalCloud hands to tests: captured events, step fakes, HTTP responses, ``Crash``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepbridge.runtime.guard import EngineSignal
from stepbridge.runtime.loops import VirtualTimeLoop


@dataclass
class Crash(EngineSignal):
    """Raise from step or workflow code under LocalCloud to simulate the Lambda container dying.

    An ``EngineSignal``, so the engine never records it as the code's failure (other
    ``BaseException``s user code raises fail the step or the execution).

    LocalCloud then does what AWS does: a work-queue message is redelivered, a step
    invocation is lost (the orchestrator's deadline timer notices), a rule delivery is retried.
    """


@dataclass
class CapturedEvent:
    """An event put on the app bus: ``detail_type``, ``detail``, ``source``, ``id``, ``time``, ``resources``
    (``stepbridge:caller/<identity>`` for events posted to ``POST /events``)."""

    detail_type: str
    detail: dict[str, Any]
    source: str
    id: str
    time: str
    resources: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class MockStep:
    """A fake standing in for a step; records each call's arguments in ``calls``."""

    fake: Any
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def as_function(self) -> Callable[..., Any]:
        """A function with the fake's sync/async nature that records calls."""
        fake = self.fake
        if inspect.iscoroutinefunction(fake):

            async def arecord(*args: object) -> object:
                self.calls.append(args)
                return await fake(*args)

            return arecord

        def record(*args: object) -> object:
            self.calls.append(args)
            if callable(fake):
                return fake(*args)
            if isinstance(fake, BaseException):
                raise fake
            return fake

        return record

    @property
    def call_count(self) -> int:
        """How many times the step ran."""
        return len(self.calls)


@dataclass
class HttpResponse:
    """A response of the HTTP API handler: ``status_code``, ``headers``, ``body`` and ``json()``."""

    status_code: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body) if self.body else None


@dataclass
class LocalOrchestratorContext:
    """The Lambda context the orchestrator handler gets under LocalCloud: its timeout runs on virtual time.

    The remaining time is the function's timeout less the virtual time the replay running now has
    spent (the seconds its step code slept on the virtual-time loop). Each replay of a batch is
    charged on its own, and sync step code takes no virtual time, so this is generous next to AWS,
    where the whole batch shares one timeout.
    """

    timeout: float
    function_name: str = "Orchestrator"
    aws_request_id: str = "local-orchestrator"  # no id drawn: runs stay reproducible (runtime/ids.py)
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (virtual) timeout."""
        import asyncio


        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return int(self.timeout * 1000)
        spent = loop.time() - loop.invocation_began if isinstance(loop, VirtualTimeLoop) else 0.0
        return max(0, int((self.timeout - spent) * 1000))
