"""The work queue's messages, typed: parsed once at the edge, dispatched by type.

Three kinds travel on the FIFO work queue, all with one JSON shape
``{"execution_id", "reason", "dedup", "data"?}`` (docs/ARCHITECTURE.md, "Messages"):

* :class:`~stepbridge.runtime.records.WakeMessage` (alias :data:`Wake`): "look at execution X again";
* :class:`ScheduleFire`: a recurring schedule fired (sent by EventBridge Scheduler with the body
  the compiler writes, :func:`schedule_fire_body`);
* :class:`DebounceFire`: a debounce window closed (a one-time timer the router set).

The last two have no execution yet. On the wire they carry a made-up ``execution_id``
(``$schedule:{name}``, ``$debounce:{hash}``) and a special ``reason``; only :func:`parse_message`
and their ``to_dict`` know that, so the engine never branches on reasons or fake ids. The JSON
stays byte-identical to what earlier versions sent (tests/unit/test_messages.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from stepbridge.runtime import keys
from stepbridge.runtime.records import WakeMessage
from stepbridge.runtime.vocabulary import Reason

#: An execution's wake-up (``start``, ``step``, ``timer``, ``event``, ``child``, ``cancel``, ``sweep``).
Wake = WakeMessage

#: EventBridge Scheduler's context attribute for the time a recurring schedule fired (Scheduler user
#: guide, "Adding context attributes"): replaced in the target input at each invocation.
SCHEDULED_TIME_PLACEHOLDER = "<aws.scheduler.scheduled-time>"


@dataclass(frozen=True)
class ScheduleFire:
    """A recurring schedule (``app.every`` / ``app.schedule``) fired at ``scheduled_time``."""

    REASON: ClassVar[Reason] = Reason.SCHEDULE

    schedule: str
    #: ISO time of the fire (Scheduler's ``<aws.scheduler.scheduled-time>``); ``None`` = unknown, use now.
    scheduled_time: str | None
    dedup: str = ""

    @property
    def group(self) -> str:
        """The wire's ``execution_id`` (LocalCloud's message group)."""
        return keys.schedule_id(self.schedule)

    def to_dict(self) -> dict[str, object]:
        """The message body, byte-compatible with the compiled ``AWS::Scheduler::Schedule`` input."""
        data: dict[str, object] = {"schedule": self.schedule}
        if self.scheduled_time is not None:
            data["scheduled_time"] = self.scheduled_time
        return {"execution_id": self.group, "reason": self.REASON, "dedup": self.dedup, "data": data}


@dataclass(frozen=True)
class DebounceFire:
    """The debounce window of ``trigger`` for ``key`` closed (at the window's ``version``)."""

    REASON: ClassVar[Reason] = Reason.DEBOUNCE

    trigger: str
    key: str
    version: int
    #: When an early delivery re-armed the timer (kept so the re-armed body differs from the first).
    rearmed: str | None = None

    @property
    def dedup(self) -> str:
        return str(self.version)

    @property
    def group(self) -> str:
        """The wire's ``execution_id`` and message group: one per trigger and key (at most 50 characters)."""
        return keys.debounce_message_id(self.trigger, self.key)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"trigger": self.trigger, "key": self.key, "version": self.version}
        if self.rearmed is not None:
            data["rearmed"] = self.rearmed
        return {"execution_id": self.group, "reason": self.REASON, "dedup": self.dedup, "data": data}


#: Any message on the work queue.
WorkMessage = WakeMessage | ScheduleFire | DebounceFire


def message_group(message: WorkMessage) -> str:
    """The SQS ``MessageGroupId`` a message is sent with (an execution's messages are never processed at once)."""
    return message.execution_id if isinstance(message, WakeMessage) else message.group


def parse_message(body: Mapping[str, object], *, receives: int = 1) -> WorkMessage:
    """The typed message of a work-queue body; ``KeyError``/``ValueError``/``TypeError`` when malformed.

    Accepts every body earlier versions wrote, including a schedule body without ``data`` (the
    name is then read from ``$schedule:{name}``).
    """
    reason = body.get("reason", "")
    raw = body.get("data")
    data: Mapping[str, object] = raw if isinstance(raw, dict) else {}
    if reason == ScheduleFire.REASON:
        name = data.get("schedule") or str(body["execution_id"]).removeprefix(keys.SCHEDULE_ID_PREFIX)
        when = data.get("scheduled_time")
        return ScheduleFire(str(name), str(when) if when else None, str(body.get("dedup", "")))
    if reason == DebounceFire.REASON:
        rearmed = data.get("rearmed")
        return DebounceFire(
            str(data["trigger"]), str(data["key"]), _integer(data.get("version", -1)),
            str(rearmed) if rearmed is not None else None,
        )
    wake = WakeMessage.from_dict(dict(body))
    return wake if receives <= 1 else WakeMessage(wake.execution_id, wake.reason, wake.dedup, wake.data, receives)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer version, got {value!r}")
    return int(value)


def schedule_fire_body(schedule: str) -> dict[str, object]:
    """The work-queue body a deployed recurring schedule sends (Scheduler fills in the fire time)."""
    return ScheduleFire(schedule, SCHEDULED_TIME_PLACEHOLDER, SCHEDULED_TIME_PLACEHOLDER).to_dict()
