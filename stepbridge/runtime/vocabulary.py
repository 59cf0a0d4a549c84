"""The engine's one vocabulary: operation types, journal record kinds, wake-up reasons and statuses.

Every value is a ``StrEnum`` whose value is the exact string stored today (journal items, SQS
bodies, Scheduler payloads, execution headers), so a member compares, hashes, formats and
serializes as that string: journals written before these enums existed replay unchanged, and
public strings (``client.list(status="SUCCEEDED")``, ``describe().status == "SUCCEEDED"``) keep
working. Their ``repr`` is the string's too, so error messages and dataclass reprs read as before.
``tests/unit/test_vocabulary.py`` pins each value so that a rename cannot change storage.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar


class Word(StrEnum):
    """A stored word: an enum member that is its string everywhere, ``repr`` included."""

    def __repr__(self) -> str:
        return str.__repr__(self)


class Status(Word):
    """An execution's status (the header's ``status`` attribute and the public ``describe().status``)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SCHEDULED = "SCHEDULED"
    #: The workflow's ``timeout=`` passed (its execution deadline, runtime/deadline.py).
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        """Finished for good: no replay changes it any more."""
        return self in TERMINAL


#: Statuses that end an execution.
TERMINAL: frozenset[str] = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT})
#: Statuses of executions that are not finished (the sparse ``by-status`` index holds exactly these).
UNFINISHED: frozenset[str] = frozenset({Status.RUNNING, Status.SCHEDULED})


def is_terminal(status: str) -> bool:
    """``Status.terminal`` for a plain string too (a status read from a JSON body or a caller)."""
    return status in TERMINAL


class Ending(Word):
    """How one replay ended (``engine.Outcome.kind``); the lower-case strings appear only in logs."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"
    CONTINUED = "continued"
    #: Unwound at the execution deadline (``@app.workflow(timeout=)``): compensations ran.
    TIMED_OUT = "timed_out"

    @property
    def status(self) -> Status:
        """The execution status this ending records (the one mapping between the two vocabularies).

        ``SUSPENDED`` records nothing and ``CONTINUED`` is finished as SUCCEEDED (with a pointer
        to the next generation) before it gets here: asking for their status is a bug.
        """
        try:
            return _STATUS_OF_ENDING[self]
        except KeyError:
            raise ValueError(f"a replay that ended {self.value!r} records no execution status") from None


_STATUS_OF_ENDING = {
    Ending.SUCCEEDED: Status.SUCCEEDED,
    Ending.FAILED: Status.FAILED,
    Ending.CANCELLED: Status.CANCELLED,
    Ending.TIMED_OUT: Status.TIMED_OUT,
}


class OpType(Word):
    """The type of operation a journal record belongs to (``JournalRecord.type``)."""

    STEP = "step"
    SLEEP = "sleep"
    WAIT = "wait"
    CHILD = "child"
    SEND = "send"
    NOW = "now"
    PROGRESS = "progress"
    #: ``ctx.set_status`` (``$status``).
    STATUS = "status"
    PATCH = "patch"
    #: The workflow-level cache hit (``$cache``).
    CACHE = "cache"
    #: Bookkeeping: a log record that only names keys (``$ack#{seq}``).
    ACK = "ack"
    #: Bookkeeping: the sweeper's ``$replayed`` marker.
    REPLAYED = "replayed"


#: Operation types that record a fact once and wait for nothing (the sweeper never waits on them).
INSTANT_TYPES: frozenset[str] = frozenset(
    {OpType.SEND, OpType.PROGRESS, OpType.STATUS, OpType.NOW, OpType.PATCH, OpType.CACHE}
)


class Kind(Word):
    """What a journal record says happened (``JournalRecord.kind``)."""

    #: Final outcomes of an operation (its record is keyed by the operation name).
    RESULT = "result"
    ERROR = "error"
    TIMEOUT = "timeout"
    #: A failed attempt of a step (``{op}#a{k}``).
    ATTEMPT = "attempt"
    #: A declared step or child was started (``{op}#d{k}``).
    DISPATCH = "dispatch"
    #: A declared step's retry timer was set (``{op}#r{k}``).
    RETRY = "retry"
    #: A step attempt began (the ``{op}#s{k}`` / ``{op}#started`` markers).
    STARTED = "started"
    #: A wait began (``{op}#w``).
    WAIT = "wait"
    #: A sleep began (its timer is set).
    TIMER = "timer"
    SENT = "sent"
    NOW = "now"
    PROGRESS = "progress"
    STATUS = "status"
    PATCH = "patch"
    #: ``$ack`` records: one a replay leaves at its end, and one written just before a shared claim.
    ACK = "ack"
    ANNOUNCE = "announce"
    REPLAYED = "replayed"

    @property
    def final(self) -> bool:
        """Ends its operation."""
        return self in FINAL_KINDS


#: Record kinds that end an operation.
FINAL_KINDS: frozenset[str] = frozenset({Kind.RESULT, Kind.ERROR, Kind.TIMEOUT})
#: Kinds of records whose timer (a deadline, a retry, a wait's timeout) must be deleted when the
#: execution ends before the operation does.
TIMED_KINDS: frozenset[str] = frozenset({Kind.DISPATCH, Kind.ATTEMPT, Kind.RETRY, Kind.WAIT})


class Reason(Word):
    """Why a wake-up was sent (``WakeMessage.reason``; timers add ``{TimerReason}:{op}`` reasons)."""

    START = "start"
    STEP = "step"
    TIMER = "timer"
    EVENT = "event"
    CHILD = "child"
    CANCEL = "cancel"
    #: An inline step found too little of the invocation left and goes on in a fresh one.
    CONTINUE = "continue"
    SWEEP = "sweep"
    #: Carry no execution yet (their ``execution_id`` is ``$schedule:...`` / ``$debounce:...``).
    SCHEDULE = "schedule"
    DEBOUNCE = "debounce"


#: Reasons whose message is not about an existing execution.
SPECIAL_REASONS: frozenset[str] = frozenset({Reason.SCHEDULE, Reason.DEBOUNCE})


class TimerReason(Word):
    """What an execution timer stands for; its wake-up's reason is ``{value}:{op}`` (see ``keys.timer_reason``)."""

    SLEEP = "sleep"
    RETRY = "retry"
    DEADLINE = "deadline"
    WAIT_TIMEOUT = "wait-timeout"
    INTERRUPTED = "interrupted"
    #: The whole execution's deadline (``@app.workflow(timeout=)``; key ``$deadline``).
    EXECUTION_DEADLINE = "execution-deadline"


E = TypeVar("E", bound=StrEnum)


def parse(enum: type[E], value: str) -> E | str:
    """``value`` as a member of ``enum`` when it is one, else unchanged (a value a newer version wrote
    still round-trips; readers compare with members, which equal their strings)."""
    return enum._value2member_map_.get(value, value)  # type: ignore[return-value]
