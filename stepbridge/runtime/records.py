"""The data the runtime stores and passes around: executions, journal records, messages, events.

All payloads are kept as JSON-compatible values (dict/list/str/int/float/bool/None) so that
every store and transport handles them the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from stepbridge.runtime import keys
from stepbridge.runtime.keys import ACK_OP as ACK_OP
from stepbridge.runtime.keys import LOG_SLOT_PREFIX as LOG_SLOT_PREFIX
from stepbridge.runtime.vocabulary import FINAL_KINDS, Kind, OpType, Reason, Status
from stepbridge.runtime.vocabulary import TERMINAL as TERMINAL

#: A JSON-compatible value (dict/list/str/int/float/bool/None, see the module docstring); typed ``object``:
#: the engine passes payloads through, and code that reads one checks its shape first.
JSON = object

# The status names as module constants (older imports); the vocabulary is ``vocabulary.Status``.
RUNNING = Status.RUNNING
SUCCEEDED = Status.SUCCEEDED
FAILED = Status.FAILED
CANCELLED = Status.CANCELLED
SCHEDULED = Status.SCHEDULED
TIMED_OUT = Status.TIMED_OUT
STATUSES: frozenset[str] = frozenset(Status)

# Stored strings read back as enum members (unknown ones, e.g. written by a newer version, stay strings).
_STATUSES: dict[str, Any] = dict(Status._value2member_map_)
_TYPES: dict[str, Any] = dict(OpType._value2member_map_)
_KINDS: dict[str, Any] = dict(Kind._value2member_map_)
_REASONS: dict[str, Any] = dict(Reason._value2member_map_)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with microseconds and a ``Z``-free ``+00:00`` offset; sorts lexicographically."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso` (also accepts a trailing ``Z``)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class ExecutionRecord:
    """One workflow execution's header: status, input, result and links to parent/children."""

    execution_id: str
    workflow: str
    status: str
    input: JSON = None
    input_hash: str = ""
    result: JSON = None
    error: dict[str, object] | None = None
    progress: dict[str, object] | None = None
    #: ``ctx.set_status(obj)``: a small JSON value the workflow sets for callers to read (runtime/status.py).
    custom_status: JSON = None
    parent_id: str | None = None
    parent_op: str | None = None
    created_at: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    scheduled_for: str | None = None
    cancel_requested: bool = False
    cancel_compensate: bool = False
    #: When the execution times out (``@app.workflow(timeout=)``): set once, when it first runs (runtime/deadline.py).
    deadline: str | None = None
    #: The deadline passed: the execution is unwinding (compensations) and ends TIMED_OUT.
    timed_out: bool = False
    #: When it began to unwind: outside compensations its replays see the journal as it was then.
    timed_out_at: str | None = None
    #: When a ``cancel(id, compensate=True)`` was first handled: the cut of its unwinding, as ``timed_out_at``.
    cancelled_at: str | None = None
    version: int = 0

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (for JSON bodies); the deadline and cut fields only when set, so a header of a
        workflow without ``timeout=`` (or not cancelled with compensation) is stored exactly as before they existed."""
        # (field by field rather than ``dataclasses.asdict``: the header is converted on every save and read, and
        # asdict's recursion over every field was a measurable part of a sleep-then-wake; JSON values are copied
        # as asdict copied them, so the caller may mutate the result)
        data: dict[str, object] = {}
        for name in _HEADER_FIELDS:
            value = getattr(self, name)
            if name in _OPTIONAL_HEADER_FIELDS and not value:
                continue
            data[name] = _json_copy(value) if isinstance(value, (dict, list)) else value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionRecord:
        """Build from :meth:`to_dict` output, ignoring unknown keys (forward compatible)."""
        # (a header read back has only known keys: checked in one set operation instead of key by key)
        known = dict(data) if _HEADER_FIELD_SET.issuperset(data) else {
            k: v for k, v in data.items() if k in _HEADER_FIELD_SET
        }
        if "status" in known:
            known["status"] = _STATUSES.get(known["status"], known["status"])
        return cls(**known)

    def copy(self) -> ExecutionRecord:
        """A shallow copy (as ``dataclasses.replace(self)``, without walking the fields: a header is copied
        before every read-modify-write)."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    @property
    def cut(self) -> str | None:
        """The instant an unwinding (deadline, or cancel with compensation) began: outside compensations its
        replays see the journal and the clock as they were then (``JournalView.cut``); ``None``: not unwinding."""
        if self.timed_out and self.timed_out_at:
            return self.timed_out_at
        return self.cancelled_at if self.cancel_compensate else None

    @property
    def terminal(self) -> bool:
        """The execution is finished (SUCCEEDED, FAILED, CANCELLED or TIMED_OUT)."""
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True)
class ExecutionGlance:
    """What an advisory check needs of an execution header, read without its body (``Store.glance_execution``).

    A declared step checks, before it runs, that its execution still wants the result. The header's body
    holds the execution's input (a ``ctx.map`` child batch's: all its items), which that check does not need.
    """

    workflow: str
    status: str
    cancel_requested: bool = False

    @property
    def terminal(self) -> bool:
        """The execution is finished (SUCCEEDED, FAILED, CANCELLED or TIMED_OUT)."""
        return self.status in TERMINAL


#: Header fields left out of the stored body while unset (added after the format was fixed).
_OPTIONAL_HEADER_FIELDS = ("deadline", "timed_out", "timed_out_at", "cancelled_at")
#: The header's fields in declaration order (the order ``to_dict`` writes them, as ``asdict`` did).
_HEADER_FIELDS = tuple(ExecutionRecord.__dataclass_fields__)
_HEADER_FIELD_SET = frozenset(_HEADER_FIELDS)


def _json_copy(value: object) -> object:
    """A copy of a JSON container (dicts and lists copied all the way down; other values shared, as they are
    immutable in JSON: str, int, float, bool, None)."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


def status_cursor(record: ExecutionRecord) -> str:
    """The sort key of an unfinished execution in the ``by-status`` index (``{created_at}#{id}``): oldest
    first, and where the sweeper's paging resumes (``Store.list_unfinished(after=...)``)."""
    return keys.created_cursor(record.created_at, record.execution_id)


#: Kind of the ``$ack`` record written just before a shared claim: it names the key being claimed,
#: and (unlike an ack a replay leaves at its end) says nothing about the replay having finished.
ANNOUNCE = Kind.ANNOUNCE


@dataclass
class JournalRecord:
    """One append-only journal entry; ``key`` is unique within the execution.

    ``op`` is the operation (step) name the record belongs to, ``type`` the operation's type
    (:class:`~stepbridge.runtime.vocabulary.OpType`) and ``kind`` says what happened
    (:class:`~stepbridge.runtime.vocabulary.Kind`); keys are built in ``runtime/keys.py``.
    """

    key: str
    op: str
    type: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    at: str = ""
    #: Order of writing by the orchestrator (1, 2, ...); 0 for records other writers append
    #: (step results, child outcomes), which sort right after their operation's records.
    seq: int = 0
    #: For orchestrator records: how many records of other writers (``seq`` 0) the replay that
    #: wrote this one had read. The sweeper compares it with the journal to find reports that no
    #: replay has seen yet (a step result whose wake-up was lost).
    seen: int = 0
    #: For orchestrator records: keys of records outside the ordered log (reports of other writers
    #: and ``shared`` claims) that this replay read or claimed first. A warm orchestrator that
    #: reads only the new part of the log fetches these (see ``runtime/journalcache.py``).
    acks: list[str] = field(default_factory=list)
    #: For orchestrator records: operations whose due instant (a sleep's end) this replay passed without
    #: writing a record of them. Their end rides on the replay's next record instead of a write of its
    #: own, so the sweeper knows the instant was handled (see ``runtime/sweeper.py``).
    passed: list[str] = field(default_factory=list)
    #: An orchestrator record whose key another writer may also record (a declared step's timeout
    #: or final error races the step's own report): stored under its key, not in the ordered log.
    shared: bool = False
    #: Approximate stored size in bytes when known (set by the stores and the replay; not persisted):
    #: what the journal cache counts against its memory budget.
    size: int = field(default=0, compare=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (what stores persist)."""
        out: dict[str, object] = {
            "key": self.key,
            "op": self.op,
            "type": self.type,
            "kind": self.kind,
            "data": self.data,
            "at": self.at,
        }
        if self.seq:
            out["seq"] = self.seq
        if self.seen:
            out["seen"] = self.seen
        if self.acks:
            out["acks"] = list(self.acks)
        if self.passed:
            out["passed"] = list(self.passed)
        if self.shared:
            out["shared"] = True
        return out

    @property
    def logged(self) -> bool:
        """Stored in the execution's ordered log (by ``seq``) rather than under its key."""
        return bool(self.seq) and not self.shared

    @property
    def slot(self) -> str:
        """Where the record is stored within the journal: ``$L{seq}`` in the ordered log, else its key.

        Operation names cannot start with ``$``, so log slots never collide with record keys.
        """
        return keys.log_slot(self.seq) if self.logged else self.key

    @property
    def foreign(self) -> bool:
        """Written by someone other than the orchestrator (a step's report, a child's outcome)."""
        return not self.seq and not keys.is_bookkeeping(self.key) and self.kind != Kind.STARTED

    @property
    def is_final(self) -> bool:
        """Ends its operation (``result``, ``error`` or ``timeout``)."""
        return self.kind in FINAL_KINDS

    @property
    def is_ack(self) -> bool:
        """An ``$ack`` record (it only names keys: the end of a replay, or a claim's announcement)."""
        return self.op == ACK_OP

    @property
    def is_announcement(self) -> bool:
        """The ``$ack`` written just before a shared claim (says nothing about the replay having finished)."""
        return self.kind == Kind.ANNOUNCE

    @property
    def is_dispatch(self) -> bool:
        """A declared step or a child was started."""
        return self.kind == Kind.DISPATCH

    @property
    def is_started(self) -> bool:
        """A step attempt's started marker (``{op}#s{k}``, ``{op}#started``)."""
        return self.kind == Kind.STARTED

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            key=data["key"],
            op=data["op"],
            type=_TYPES.get(data.get("type", ""), data.get("type", "")),
            kind=_KINDS.get(data["kind"], data["kind"]),
            data=data.get("data") or {},
            at=data.get("at", ""),
            seq=int(data.get("seq") or 0),
            seen=int(data.get("seen") or 0),
            acks=[str(k) for k in data.get("acks") or []],
            passed=[str(k) for k in data.get("passed") or []],
            shared=bool(data.get("shared")),
        )


@dataclass(frozen=True)
class WakeMessage:
    """A message on the FIFO work queue: "look at execution X again".

    ``reason`` says why (:class:`~stepbridge.runtime.vocabulary.Reason`: ``start``, ``step``, ``timer``,
    ``event``, ``child``, ``cancel`` ..., and ``{TimerReason}:{op}`` for a timer); two special reasons
    carry no execution yet: ``schedule`` (a recurring schedule fired; ``data``
    has ``schedule`` and ``scheduled_time``) and ``debounce`` (a debounce window closed; ``data``
    has ``trigger`` and ``key``). ``dedup`` makes the body of a logical message stable, so
    FIFO content-based de-duplication drops re-sends within its 5-minute window.
    """

    execution_id: str
    reason: str
    dedup: str
    data: dict[str, object] | None = None
    #: How often the queue delivered this message (SQS ``ApproximateReceiveCount``; not part of the body).
    #: Above 1, an earlier invocation failed or died while handling it.
    receives: int = field(default=1, compare=False)

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (the SQS message body)."""
        body: dict[str, object] = {"execution_id": self.execution_id, "reason": self.reason, "dedup": self.dedup}
        if self.data:
            body["data"] = self.data
        return body

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> WakeMessage:
        """Inverse of :meth:`to_dict`; raises ``KeyError`` on a malformed body."""
        extra = data.get("data")
        return cls(
            execution_id=str(data["execution_id"]),
            reason=_REASONS.get(str(data.get("reason", "")), str(data.get("reason", ""))),
            dedup=str(data.get("dedup", "")),
            data=extra if isinstance(extra, dict) else None,
        )

    @property
    def timer_keys(self) -> list[str]:
        """Keys of the execution timers whose firing this wake-up is (``dedup`` ``timer:{key}``, and the
        ``data.timers`` a batch merged into it)."""
        own = keys.timer_key_of(self.dedup)
        found = [own] if own is not None else []
        merged = (self.data or {}).get("timers")
        if isinstance(merged, list):
            found.extend(str(k) for k in merged if str(k) not in found)
        return found

    @property
    def reports(self) -> list[dict[str, object]]:
        """Journal records of other writers this wake-up announces (see :func:`report_wake`)."""
        found = (self.data or {}).get("reports")
        return (
            [r for r in found if isinstance(r, dict) and isinstance(r.get("key"), str)]
            if isinstance(found, list)
            else []
        )


#: A report's record travels inside its wake-up only up to this JSON size; bigger ones are read from
#: the table. Keeps the message within one 64 KB SQS billing chunk (SQS bills per 64 KB of payload).
INLINE_REPORT_BYTES = 16 * 1024


def report_wake(execution_id: str, reason: str, dedup: str, record: JournalRecord, *, won: bool) -> WakeMessage:
    """The wake-up that follows a report written by someone other than the orchestrator.

    It names the record's key so that a warm orchestrator reads just that record instead of the
    whole journal. When the writer knows its write won (``won``), the record itself rides along
    (if small), and the orchestrator needs no read at all; after an ambiguous write only the key
    is sent, since the stored record may be a racing writer's.
    """
    report: dict[str, object] = {"key": record.key}
    if won:
        body = record.to_dict()
        if len(json.dumps(body, separators=(",", ":"), default=str)) <= INLINE_REPORT_BYTES:
            report = {"key": record.key, "record": body}
    return WakeMessage(execution_id, reason, dedup, {"reports": [report]})


@dataclass(frozen=True)
class StepInvocation:
    """The payload of an asynchronous invoke of a declared step's Lambda function."""

    execution_id: str
    op: str
    step: str
    args: list[JSON]
    attempt: int
    deadline: str
    timeout: float | None = None
    at_most_once: bool = False
    #: Dispatched by a saga's compensation while the execution is being cancelled (it must still run).
    compensation: bool = False
    #: The step deletes its own deadline timer when it reports; ``False`` for a step that a deadline timer shared
    #: by its dispatch batch covers (runtime/stepcover.py): that timer is not the step's to delete.
    disarm: bool = True
    #: Set on a synchronous invoke (runtime/stepreply.py): an outcome reported by this instant is answered in the
    #: invoke's response instead of a wake-up through the queue; one reported later wakes the orchestrator as
    #: usual. Empty: an asynchronous invoke.
    reply_by: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (the Lambda event); flags are left out when they have their default value."""
        out = asdict(self)
        for flag in ("at_most_once", "compensation", "reply_by"):
            if not out[flag]:
                del out[flag]
        if out["disarm"]:
            del out["disarm"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepInvocation:
        """Inverse of :meth:`to_dict`."""
        return cls(
            execution_id=str(data["execution_id"]),
            op=str(data["op"]),
            step=str(data["step"]),
            args=list(data.get("args") or []),
            attempt=int(data["attempt"]),
            deadline=str(data.get("deadline", "")),
            timeout=float(data["timeout"]) if data.get("timeout") is not None else None,
            at_most_once=bool(data.get("at_most_once", False)),
            compensation=bool(data.get("compensation", False)),
            disarm=bool(data.get("disarm", True)),
            reply_by=str(data.get("reply_by") or ""),
        )


@dataclass(frozen=True)
class Event:
    """An event on the app's bus (the parts of an EventBridge event the runtime uses)."""

    detail_type: str
    detail: dict[str, Any]
    source: str = ""
    id: str = ""
    time: str = ""
    resources: tuple[str, ...] = ()

    def to_eventbridge(self) -> dict[str, object]:
        """The EventBridge envelope (as a rule target receives it)."""
        return {
            "version": "0",
            "id": self.id,
            "detail-type": self.detail_type,
            "source": self.source,
            "time": self.time,
            "region": "",
            "account": "",
            "resources": list(self.resources),
            "detail": self.detail,
        }

    @classmethod
    def from_eventbridge(cls, envelope: dict[str, Any]) -> Event:
        """Build from an EventBridge envelope (``detail-type`` key)."""
        detail = envelope.get("detail")
        return cls(
            detail_type=str(envelope.get("detail-type", "")),
            detail=detail if isinstance(detail, dict) else {},
            source=str(envelope.get("source", "")),
            id=str(envelope.get("id", "")),
            time=str(envelope.get("time", "")),
            resources=tuple(envelope.get("resources") or ()),
        )
