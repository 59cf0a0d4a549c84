"""Every key the engine stores or sends, built and parsed in one place.

Journal record keys (``{op}``, ``{op}#a{k}``, ``{op}#d{k}`` ...), log slots, table prefixes, waiter,
event-log, cache, debounce and state-machine items, timer (schedule) names and wake-up ``dedup``
values. These strings are stored (DynamoDB items, Scheduler schedules, SQS bodies): a change here is
a change of the stored format, so ``tests/unit/test_keys.py`` pins every one of them literally.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from stepbridge.runtime.vocabulary import TimerReason

# ---- table layout (single-table design; see docs/ARCHITECTURE.md) -----------------------------

#: Partition of an execution: its header (``META``) and its journal (``J#...``).
EXEC_PREFIX = "EXEC#"
#: Sort key of the execution header.
META = "META"
#: Sort-key prefix of journal items inside an execution's partition.
JOURNAL_PREFIX = "J#"
#: The sort keys from the journal's first to the header, inclusive: exactly the journal (``J#...``) and the
#: header sort there, so one Query reads both (``Store.load_execution``). No other item of an execution's
#: partition may sort in this range (tests/unit/test_keys.py checks every key constant here against it).
EXECUTION_SK_RANGE = (JOURNAL_PREFIX, META)
#: Partition key of the ``by-workflow`` index.
WORKFLOW_PREFIX = "WF#"
#: Partition key of the sparse ``by-status`` index.
STATUS_PREFIX = "STATUS#"
#: Partition of the waiters of an event type (one item per waiting operation).
WAITER_PREFIX = "WAIT#"
#: Partition of the look-back log of an event type.
EVENT_LOG_PREFIX = "EVT#"
#: Partition of a cached result (step calls ``step:...``, workflows ``wf:...``); its sort key is ``CACHE``.
CACHE_PREFIX = "CACHE#"
CACHE_SK = "CACHE"
#: Partition of a trigger's open debounce windows.
DEBOUNCE_PREFIX = "DEBOUNCE#"
#: Partition of a state machine's instances.
MACHINE_PREFIX = "SM#"
#: Partitions of the resilience patterns' items (``stepbridge.patterns``).
BREAKER_PREFIX = "BREAKER#"
BULKHEAD_PREFIX = "BULKHEAD#"
#: Partition of the sweeper's own item (its paging cursor per status; the sort key is the status).
SWEEPER_PK = "SWEEPER"
#: Partition of the idempotency records of a namespace (Powertools' table layout).
IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
#: Partition of a callback, by its token (one item per token: completion is a key lookup, never a scan).
CALLBACK_PREFIX = "CALLBACK#"
CALLBACK_SK = "CALLBACK"


def execution_pk(execution_id: str) -> str:
    """Partition key of an execution (header and journal)."""
    return f"{EXEC_PREFIX}{execution_id}"


def execution_key(execution_id: str) -> tuple[str, str]:
    """``(pk, sk)`` of an execution header."""
    return execution_pk(execution_id), META


def execution_id_of(pk: str) -> str | None:
    """The execution id of an execution partition key (``None`` for any other partition)."""
    return pk[len(EXEC_PREFIX) :] if pk.startswith(EXEC_PREFIX) else None


def journal_sk(slot: str) -> str:
    """Sort key of a journal item stored at ``slot`` (a log slot or a record key)."""
    return f"{JOURNAL_PREFIX}{slot}"


def slot_of_sk(sk: str) -> str | None:
    """The journal slot of a sort key (``None`` when it is not a journal item's)."""
    return sk[len(JOURNAL_PREFIX) :] if sk.startswith(JOURNAL_PREFIX) else None


def workflow_pk(workflow: str) -> str:
    """``by-workflow`` index partition key."""
    return f"{WORKFLOW_PREFIX}{workflow}"


def status_pk(status: str) -> str:
    """``by-status`` index partition key."""
    return f"{STATUS_PREFIX}{status}"


def created_cursor(created_at: str, execution_id: str) -> str:
    """Sort key of both indexes (``{created_at}#{id}``): oldest first, unique, where paging resumes."""
    return f"{created_at}#{execution_id}"


# ---- the journal -----------------------------------------------------------------------------

#: Slot prefix of the orchestrator's ordered log inside the journal (``$L0000000001`` ...).
LOG_SLOT_PREFIX = "$L"
#: Op of the records that only acknowledge keys (see ``JournalRecord.acks``).
ACK_OP = "$ack"
#: Key (and op) of the sweeper's marker of a replay that wrote nothing.
REPLAYED = "$replayed"
#: Key (and op) of the workflow-level cache hit.
CACHE_OP = "$cache"
#: Operation names cannot start with this: it marks bookkeeping records and log slots.
RESERVED_PREFIX = "$"


def log_slot(seq: int) -> str:
    """Slot of the orchestrator record ``seq`` (zero-padded so the slots sort in write order)."""
    return f"{LOG_SLOT_PREFIX}{seq:010d}"


def log_sk_from(seq: int) -> str:
    """First sort key of the log from ``seq`` on (a range Query's lower bound)."""
    return journal_sk(log_slot(seq))


#: Upper bound of the log's sort keys (``~`` sorts after every digit).
LOG_SK_END = f"{JOURNAL_PREFIX}{LOG_SLOT_PREFIX}~"


def ack_key(seq: int) -> str:
    """Key of the ``$ack`` record at log position ``seq``."""
    return f"{ACK_OP}#{seq}"


def is_bookkeeping(key: str) -> bool:
    """Whether ``key`` belongs to the engine (``$ack#..``, ``$replayed``, ``$cache``), not to an operation."""
    return key.startswith(RESERVED_PREFIX)


def attempt_key(op: str, attempt: int) -> str:
    """A failed attempt ``k`` of a step (also the inline retry's timer key)."""
    return f"{op}#a{attempt}"


def dispatch_key(op: str, attempt: int) -> str:
    """Dispatch ``k`` of a declared step or a child (also the step's deadline timer key)."""
    return f"{op}#d{attempt}"


def retry_key(op: str, attempt: int) -> str:
    """The retry timer record of a declared step's failed attempt ``k``."""
    return f"{op}#r{attempt}"


def wait_key(op: str) -> str:
    """A wait's start record (also the key of its timeout timer)."""
    return f"{op}#w"


def started_marker(op: str, attempt: int) -> str:
    """Marker an orchestrator journals before it runs attempt ``attempt`` of the inline step ``op``
    when an earlier invocation may have died (see ``steps._inline``)."""
    return f"{op}#s{attempt}"


def batch_op(name: str) -> str:
    """The bookkeeping operation of a ``ctx.map`` batch's completion decision (``$batch:{name}``)."""
    return f"{RESERVED_PREFIX}batch:{name}"


def batch_late_key(op: str, index: int) -> str:
    """The note that the abandoned item ``index`` of the batch ``op`` reported after the decision (ignored)."""
    return f"{op}#late{index}"


def at_most_once_marker(op: str) -> str:
    """The "started" marker of an ``at_most_once`` step (journaled before every run of it)."""
    return f"{op}#started"


_NUMBERED = {"a": "attempt", "d": "dispatch", "r": "retry", "s": "started"}


@dataclass(frozen=True)
class RecordKey:
    """A journal key read back: ``op`` and which record of it (``part`` is ``""`` for the final one)."""

    op: str
    #: ``""`` (final), ``attempt``, ``dispatch``, ``retry``, ``started`` (``{op}#s{k}``), ``wait``,
    #: ``at_most_once`` (``{op}#started``).
    part: str = ""
    attempt: int = 0


def parse_key(key: str) -> RecordKey:
    """The inverse of the builders above.

    Operation names may contain ``#`` (``auto_name`` gives ``base#2``): only a trailing
    ``#a{k}``, ``#d{k}``, ``#r{k}``, ``#s{k}``, ``#w`` or ``#started`` is read as a suffix.
    """
    op, sep, tail = key.rpartition("#")
    if not sep or not op:
        return RecordKey(key)
    if tail == "w":
        return RecordKey(op, "wait")
    if tail == "started":
        return RecordKey(op, "at_most_once")
    part = _NUMBERED.get(tail[:1])
    if part is not None and tail[1:].isdigit() and tail[1:2] != "0":
        return RecordKey(op, part, int(tail[1:]))
    return RecordKey(key)


def waited_op(timer_key: str) -> str | None:
    """The operation whose wait timeout ``timer_key`` is (``{op}#w``), else ``None``."""
    return timer_key[:-2] if timer_key.endswith("#w") else None


# ---- waiters, event log, cache, debounce, state machines --------------------------------------


def waiter_pk(event_type: str) -> str:
    """Partition key of the waiters for an event type."""
    return f"{WAITER_PREFIX}{event_type}"


def waiter_sk(execution_id: str, op: str) -> str:
    """Sort key of one waiting operation's waiter item."""
    return f"{execution_id}#{op}"


def event_log_pk(event_type: str) -> str:
    """Partition key of the event log for an event type."""
    return f"{EVENT_LOG_PREFIX}{event_type}"


def event_log_sk(received: str, event_id: str) -> str:
    """Sort key of a logged event: by arrival, so a wait looks back from its execution's start."""
    return f"{received}#{event_id}"


def step_cache_key(op: str, args_hash: str) -> str:
    """Cache key of a step call: step name + hash of its canonical-JSON arguments."""
    return f"step:{op}:{args_hash}"


def explicit_cache_key(cache_key: str) -> str:
    """Cache key of a step call with an explicit ``cache_key`` (already fitted to the key size)."""
    return f"step:{cache_key}"


def workflow_cache_key(workflow: str, input_hash: str) -> str:
    """Cache key of a workflow's result for an input."""
    return f"wf:{workflow}:{input_hash}"


def cache_pk(cache_key: str) -> str:
    """Partition key of a cached result."""
    return f"{CACHE_PREFIX}{cache_key}"


def debounce_pk(trigger: str) -> str:
    """Partition key of a trigger's debounce windows (the sort key is the fitted debounce key)."""
    return f"{DEBOUNCE_PREFIX}{trigger}"


def machine_pk(machine: str) -> str:
    """Partition key of a state machine's instances (the sort key is the instance key)."""
    return f"{MACHINE_PREFIX}{machine}"


def machine_lock_sk(key: str) -> str:
    """Sort key of an instance's lock."""
    return f"{key}#lock"


def machine_rejections_sk(key: str) -> str:
    """Sort key of an instance's log of rejected events."""
    return f"{key}#rejections"


def breaker_key(name: str) -> tuple[str, str]:
    """``(pk, sk)`` of a circuit breaker's state."""
    return f"{BREAKER_PREFIX}{name}", "STATE"


def callback_key(token: str) -> tuple[str, str]:
    """``(pk, sk)`` of the callback item of ``token`` (runtime/callbacks.py)."""
    return f"{CALLBACK_PREFIX}{token}", CALLBACK_SK


def bulkhead_key(name: str) -> tuple[str, str]:
    """``(pk, sk)`` of a bulkhead's slots."""
    return f"{BULKHEAD_PREFIX}{name}", "SLOTS"


#: Partition of a human task: the task (``META``) and one assignment item per person ever assigned.
TASK_PREFIX = "TASK#"
#: Sort key prefix of a task's assignment items (``A#{assignee}``).
ASSIGNMENT_PREFIX = "A#"
#: Hash key prefix of the ``by-assignee`` index (the task inbox).
ASSIGNEE_PREFIX = "ASSIGNEE#"


def task_pk(task_id: str) -> str:
    """Partition key of a human task (runtime/tasks.py)."""
    return f"{TASK_PREFIX}{task_id}"


def assignment_sk(assignee: str) -> str:
    """Sort key of one person's assignment item of a task."""
    return f"{ASSIGNMENT_PREFIX}{assignee}"


def inbox_pk(assignee: str) -> str:
    """``by-assignee`` index hash key of a person's inbox."""
    return f"{ASSIGNEE_PREFIX}{assignee}"


def inbox_sk(status: str, created_at: str, task_id: str) -> str:
    """``by-assignee`` index range key: by status, then oldest first."""
    return f"{status}#{created_at}#{task_id}"


#: Longest user-derived part of a DynamoDB key kept as is (a sort key holds 1024 bytes, a partition key
#: 2048; half leaves room for the prefixes and suffixes stepbridge adds).
MAX_KEY_PART_BYTES = 512


def fit_key(value: str, max_bytes: int = MAX_KEY_PART_BYTES) -> str:
    """A user-derived DynamoDB key part (a debounce key, a cache key): unchanged up to ``max_bytes`` of
    UTF-8, else its first characters plus ``#h`` and the SHA-256 of the whole value (deterministic, distinct)."""
    data = value.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return value
    digest = hashlib.sha256(data).hexdigest()
    head = data[: max_bytes - 2 - len(digest)].decode("utf-8", "ignore")
    return f"{head}#h{digest}"


def scoped_name(base: str, scope: str) -> str:
    """An unnamed operation's name in gather branch ``scope`` (``""`` outside any): ``base`` or ``base@0.1``."""
    return f"{base}@{scope.rstrip('.')}" if scope else base


def numbered_name(scoped: str, n: int) -> str:
    """The ``n``-th use of the same scoped name: ``base``, ``base#2``, ``base#3`` ... (see ``Replay.auto_name``)."""
    return scoped if n == 1 else f"{scoped}#{n}"


def idempotency_pk(namespace: str) -> str:
    """Partition key of the idempotency records of ``namespace``."""
    return f"{IDEMPOTENCY_PREFIX}{namespace}"


# ---- timers (EventBridge Scheduler schedules) ----------------------------------------------------

#: Schedule names: 1-64 of ``[0-9A-Za-z-_.]`` (EventBridge Scheduler CreateSchedule ``Name``).
TIMER_NAME_PREFIX = "sb-"


def timer_name(execution_id: str, key: str) -> str:
    """The schedule name of an execution's timer ``key`` (what the orchestrator and step worker both derive)."""
    digest = hashlib.sha256(f"{execution_id}|{key}".encode()).hexdigest()[:48]
    return f"{TIMER_NAME_PREFIX}{digest}"


#: Timer key of an execution's deadline (``@app.workflow(timeout=)``, runtime/deadline.py).
DEADLINE_KEY = "$deadline"


#: Timer key prefix of a deadline timer shared by the declared steps one invocation dispatched: ``$cover:{op}#d{k}``
#: is due at dispatch ``{op}#d{k}``'s deadline (runtime/stepcover.py).
COVER_TIMER_PREFIX = "$cover:"


def cover_timer_key(dispatch_key: str) -> str:
    """The key of the shared deadline timer set at the deadline of the dispatch ``dispatch_key``."""
    return f"{COVER_TIMER_PREFIX}{dispatch_key}"


def covered_dispatch(timer_key: str) -> str | None:
    """The dispatch key a shared deadline timer's key names (``None``: not such a timer)."""
    return timer_key[len(COVER_TIMER_PREFIX) :] if timer_key.startswith(COVER_TIMER_PREFIX) else None


def deadline_timer_name(execution_id: str) -> str:
    """The schedule name of an execution's deadline timer."""
    return timer_name(execution_id, DEADLINE_KEY)


def start_timer_name(execution_id: str) -> str:
    """The schedule name of a deferred execution's start."""
    return timer_name(execution_id, "$start")


def debounce_timer_name(trigger: str, key: str, version: int) -> str:
    """The schedule name of version ``version`` of a debounce window."""
    return "sb-d-" + hashlib.sha256(f"{trigger}|{key}|{version}".encode()).hexdigest()[:40]


def timer_reason(reason: TimerReason, op: str) -> str:
    """The ``reason`` of a timer's wake-up (``sleep:{op}``, ``retry:{op}`` ...)."""
    return f"{reason}:{op}"


# ---- wake-up messages: de-duplication values and special execution ids ------------------------

#: The prefix of a timer's wake-up ``dedup`` (``timer:{key}``, see ``Replay.set_timer``).
TIMER_DEDUP_PREFIX = "timer:"
START_DEDUP = "start"
CANCEL_DEDUP = "cancel"


def timer_dedup(key: str) -> str:
    """``dedup`` of the wake-up of the execution timer ``key``."""
    return f"{TIMER_DEDUP_PREFIX}{key}"


def timer_key_of(dedup: str) -> str | None:
    """The timer key a ``dedup`` names (``None`` when the wake-up is not a timer's)."""
    return dedup[len(TIMER_DEDUP_PREFIX) :] if dedup.startswith(TIMER_DEDUP_PREFIX) else None


def sweep_dedup(minute: str) -> str:
    """``dedup`` of the sweeper's wake-up (one per execution per minute)."""
    return f"sweep:{minute}"


def event_dedup(event_id: str, op: object) -> str:
    """``dedup`` of the wake-up of a waiter ``op`` by an event."""
    return f"event:{event_id}:{op}"


def child_dedup(parent_op: str) -> str:
    """``dedup`` of a child's report to its parent."""
    return f"child:{parent_op}"


def step_report_dedup(op: str, attempt: int, kind: str) -> str:
    """``dedup`` of a declared step's report (one per attempt and outcome)."""
    return f"step:{op}:{attempt}:{kind}"


def continue_dedup(op: str, attempt: int, at: str) -> str:
    """``dedup`` of an inline step's hand-over to a fresh invocation."""
    return f"continue:{op}:{attempt}:{at}"


#: Prefixes of the ``execution_id`` of messages that carry no execution yet.
SCHEDULE_ID_PREFIX = "$schedule:"
DEBOUNCE_ID_PREFIX = "$debounce:"


def schedule_id(schedule: str) -> str:
    """The id of a recurring schedule's fires: the ``execution_id`` of its message (and LocalCloud's timer)."""
    return f"{SCHEDULE_ID_PREFIX}{schedule}"


def debounce_message_id(trigger: str, key: str) -> str:
    """``execution_id`` of a debounce window's close message (its FIFO group: one per window)."""
    return f"{DEBOUNCE_ID_PREFIX}{hashlib.sha256(f'{trigger}|{key}'.encode()).hexdigest()[:40]}"
