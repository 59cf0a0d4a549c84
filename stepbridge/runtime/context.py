"""``Context``: what a workflow function receives as ``ctx``; every method is replay-safe.

The context is a thin facade over :class:`~stepbridge.runtime.replay.Replay` (the Temporal
habit of one seam between the DSL and the runtime): the operations live in ``steps``,
``waits`` and ``children``.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from stepbridge.api.app import App, check_event_type
from stepbridge.api.calendar import BusinessDays, BusinessDuration, BusinessHours, Calendar
from stepbridge.api.completion import Completion
from stepbridge.api.durations import Duration, optional_seconds, to_seconds
from stepbridge.api.retry import Retry
from stepbridge.errors import PayloadTooLarge, WorkflowDefinitionError
from stepbridge.runtime import batch, business, children, payloads, steps, waits
from stepbridge.runtime.codec import to_json_value
from stepbridge.runtime.executions import update_execution
from stepbridge.runtime.guard import ContinueAsNew
from stepbridge.runtime.limits import EVENT_BYTES, MAX_PROGRESS_MESSAGE_BYTES, check_event_size
from stepbridge.runtime.observability import add_metric
from stepbridge.runtime.operations.interpret import perform
from stepbridge.runtime.operations.patch import Patch
from stepbridge.runtime.operations.progress import Progress, Report
from stepbridge.runtime.operations.send import Publish, Send, SendState
from stepbridge.runtime.operations.sleep import Sleep
from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import Event, iso, parse_iso
from stepbridge.runtime.replay import Replay, current_op, refuse_while_suspending
from stepbridge.runtime.vocabulary import Kind, OpType

T = TypeVar("T")


class Context:
    """The durable context of one workflow execution (``ctx`` in workflow functions)."""

    def __init__(self, replay: Replay) -> None:
        self._rp = replay

    @property
    def replay(self) -> Replay:
        """The engine's replay behind this context: how stepbridge's own operation modules (callbacks, human
        tasks, SLAs, child batches) reach the journal and the ports. Workflow code has no use for it."""
        return self._rp

    # ---- identity ---------------------------------------------------------------------

    @property
    def execution_id(self) -> str:
        """This execution's id."""
        return self._rp.execution_id

    @property
    def workflow(self) -> str:
        """The name of the running workflow."""
        return self._rp.execution.workflow

    @property
    def parent_id(self) -> str | None:
        """The parent execution's id, for child workflows."""
        return self._rp.execution.parent_id

    @property
    def is_replaying(self) -> bool:
        """True while the code is re-running operations that the journal already holds."""
        return bool(self._rp.unconsumed_ops())

    @property
    def idempotency_key(self) -> str:
        """A stable key for the side effect being performed: ``{execution_id}:{step name}``.

        Inside a step it names that step (the same on every retry attempt); pass it to
        payment APIs and the like so a retried attempt is not charged twice.
        """
        op = current_op.get()
        return f"{self.execution_id}:{op}" if op else self.execution_id

    # ---- steps ------------------------------------------------------------------------

    async def step(
        self,
        name: str,
        fn: Callable[..., object],
        *args: object,
        timeout: Duration | None = None,
        retry: Retry | None = None,
        cache_ttl: Duration | None = None,
        cache_key: str | None = None,
        at_most_once: bool = False,
        sla: Duration | BusinessDuration | None = None,
        on_breach: Callable[..., Any] | None = None,
        calendar: Calendar | None = None,
    ) -> Any:
        """Run ``fn(*args)`` once as the durable step ``name`` and return its (recorded) result.

        ``fn`` is an inline function (sync or async; runs in the orchestrator) or a function
        decorated with ``@app.step`` (runs in its own Lambda). ``timeout`` bounds one attempt,
        ``retry`` overrides the retry policy, ``cache_ttl`` reuses a result across executions
        for calls with the same name and arguments (or ``cache_key``).

        Steps are at-least-once: a crash after ``fn``'s side effect but before its result is
        journaled runs it again (use ``ctx.idempotency_key`` / ``step_context().idempotency_key``).
        ``at_most_once=True`` journals a "started" marker first and never runs ``fn`` twice: an
        attempt that died after starting fails the step with ``StepInterrupted``, and the step is
        not retried.

        ``sla`` (seconds, ``timedelta`` or a business duration on ``calendar``): when the step has not
        finished by then, ``Step.sla_breached`` is emitted and ``on_breach(info)`` runs as the step
        ``{name}:on-breach``; the step goes on and the execution does not fail (runtime/sla.py).
        """

        def run() -> Awaitable[Any]:
            return steps.run_step(
                self._rp,
                name,
                fn,
                args,
                timeout=optional_seconds(timeout, what=f"timeout of step '{name}'"),
                retry=retry,
                cache_ttl=optional_seconds(cache_ttl, what=f"cache_ttl of step '{name}'"),
                cache_key=cache_key,
                at_most_once=at_most_once,
            )

        if sla is None:
            if on_breach is not None:
                raise WorkflowDefinitionError(f"step '{name}': on_breach= needs sla= (the deadline it watches)")
            return await run()
        from stepbridge.runtime.sla import run_with_sla

        return await run_with_sla(self, name, sla, on_breach, calendar, run)

    async def gather(self, *awaitables: Awaitable[Any], completion: Completion | None = None) -> Any:
        """Run steps, waits and children concurrently; results in argument order (like ``Promise.all``).

        The first failure (by position) is raised once every branch has finished or is waiting.
        With ``completion=`` returns a ``BatchResult`` instead and may decide early (runtime/batch.py).
        """
        return await batch.gather(self._rp, awaitables, completion)

    async def map(
        self,
        name: str,
        items: Iterable[object],
        fn: Callable[..., object],
        *,
        concurrency: int = 10,
        timeout: Duration | None = None,
        retry: Retry | None = None,
        completion: Completion | None = None,
    ) -> Any:
        """Run ``fn(item)`` as one step per item (``{name}-0``, ``{name}-1`` ...), at most ``concurrency`` at a time.

        Results come back in item order. A step that is waiting (a declared step in flight)
        keeps its slot, so no more than ``concurrency`` are ever outstanding. With ``completion=``
        returns a ``BatchResult`` and may decide early (runtime/batch.py, docs/API.md).
        """

        def run_item(op: str, value: object) -> Awaitable[Any]:
            return self.step(op, fn, value, timeout=timeout, retry=retry)

        return await batch.map_items(
            self._rp, name, items, fn, run_item, concurrency=concurrency, completion=completion,
            timeout=optional_seconds(timeout, what=f"timeout of ctx.map('{name}')"), retry=retry,
        )

    # ---- time ---------------------------------------------------------------------------

    async def poll(
        self,
        name: str,
        check: Callable[..., Any],
        *,
        initial: Any = None,
        every: Duration = 30,
        backoff: float = 1.0,
        max_every: Duration | None = None,
        max_attempts: int = 60,
        until: Callable[[Any], bool] | None = None,
        deadline: Duration | None = None,
    ) -> Any:
        """Run ``check(state)`` as step ``{name}-{k}`` until ``until(state)``, sleeping durably in between
        (``every`` x ``backoff``, capped at ``max_every``); ``PollTimeout`` after ``max_attempts``."""
        from stepbridge.runtime.polling import poll

        return await poll(self, name, check, initial=initial, every=every, backoff=backoff, max_every=max_every,
                          max_attempts=max_attempts, until=until, deadline=deadline)

    async def callback(
        self, name: str, *, timeout: Duration | None = None, heartbeat: Duration | None = None
    ) -> Any:
        """Issue a single-use callback token (the step ``name``); ``await cb.result()`` waits for the external
        system's ``complete_callback`` / ``fail_callback`` (``CallbackFailed``); ``CallbackTimeout`` after
        ``timeout``, or ``heartbeat`` without a ``heartbeat_callback``. See runtime/callbacks.py."""
        from stepbridge.runtime.callbacks import create

        return await create(self, name, timeout, heartbeat)

    async def wait_for_callback(
        self,
        name: str,
        submit: Callable[..., Any],
        *,
        timeout: Duration | None = None,
        heartbeat: Duration | None = None,
    ) -> Any:
        """``ctx.callback(name)``, then ``submit(token)`` as the step ``{name}-submit``, then its result."""
        from stepbridge.runtime.callbacks import wait_for_callback

        return await wait_for_callback(self, name, submit, timeout, heartbeat)

    async def sleep(
        self, duration: Duration | BusinessDuration, *, name: str | None = None, calendar: Calendar | None = None
    ) -> None:
        """Durable sleep: the execution is suspended and woken by a timer (no Lambda runs meanwhile).

        ``BusinessDays(n)`` / ``BusinessHours(n)`` count on ``calendar`` (or ``App(calendar=)``); the
        wake-up instant is computed once and journaled, so a later calendar change does not move it.
        """
        if isinstance(duration, BusinessDays | BusinessHours):
            op = name or self._rp.session.auto_name("sleep")
            rec = self._rp.records(op).get(op)
            wake_at = (
                parse_iso(str(rec.data["wake_at"]))
                if rec is not None
                else business.instant_after(self._rp.app, self._rp.now(), duration, calendar, what=f"ctx.sleep '{op}'")
            )
            await waits.sleep_until(self._rp, op, wake_at)
            return
        seconds = to_seconds(duration, what="ctx.sleep duration")
        op = name or self._rp.session.auto_name("sleep")
        wake_at = self._wake_at(op, seconds)
        await waits.sleep_until(self._rp, op, wake_at)

    def _wake_at(self, op: str, seconds: float) -> datetime:
        log = self._rp.log
        recorded = Sleep.state(op, log.records(op)).wake_at
        return recorded if recorded is not None else log.now() + timedelta(seconds=seconds)

    async def sleep_until(self, when: datetime, *, name: str | None = None) -> None:
        """Durable sleep until an aware datetime (naive ones are taken as UTC)."""
        if not isinstance(when, datetime):
            raise TypeError(f"ctx.sleep_until needs a datetime, got {type(when).__name__}")
        op = name or self._rp.session.auto_name("sleep")
        await waits.sleep_until(
            self._rp, op, when if when.tzinfo else when.replace(tzinfo=parse_iso(iso(self._rp.now())).tzinfo)
        )

    def now(self) -> datetime:
        """The current time, recorded on first call so replays see the same value (UTC, aware)."""
        op = self._rp.session.auto_name("$now")
        self._rp.session.mark(op, OpType.NOW)
        rec = self._rp.records(op).get(op)
        if rec is None:
            rec = self._rp.log.record(op, OpType.NOW, Kind.NOW, {"value": iso(self._rp.now())})
        return parse_iso(str(rec.data["value"]))

    def uuid(self) -> str:
        """A random UUID4 string that is the same on every replay of this execution."""
        return str(uuid_module.UUID(int=self._rp.session.rng.getrandbits(128), version=4))

    def random(self) -> float:
        """A float in [0, 1) that is the same on every replay of this execution."""
        return self._rp.session.rng.random()

    # ---- events ----------------------------------------------------------------------

    async def wait_for(
        self,
        event_type: str,
        *,
        match: Mapping[str, object] | None = None,
        where: Callable[[Any], bool] | None = None,
        timeout: Duration | BusinessDuration | None = None,
        default: Any = waits.RAISE,
        name: str | None = None,
        sources: Sequence[str] | None = None,
        callers: Sequence[str] | None = None,
        calendar: Calendar | None = None,
    ) -> Any:
        """Wait for an event of ``event_type`` whose ``detail`` has the ``match`` fields and passes ``where``.

        Returns the event's ``detail``. Events received since the execution started count
        (look-back), each satisfies one wait at most. On ``timeout`` raises ``WaitTimeout``,
        or returns ``default`` when one is given (``default=None`` returns ``None``).
        ``sources`` accepts only events with one of these EventBridge sources (the app's own
        ``ctx.send`` uses the app name); ``callers`` only events posted to ``POST /events`` by one
        of these IAM principals / ``jwt:<sub>`` (``*`` wildcards). Default: any producer.
        A business ``timeout`` (``BusinessHours(8)``) counts on ``calendar`` (or ``App(calendar=)``);
        its deadline is computed once, when the wait is first recorded.
        """
        op = name or self._rp.session.auto_name(f"wait:{event_type}")
        if isinstance(timeout, BusinessDays | BusinessHours):
            now = self._rp.now()
            until = business.instant_after(self._rp.app, now, timeout, calendar, what=f"timeout of wait '{op}'")
            seconds: float | None = (until - now).total_seconds()
            return await waits.wait_for(
                self._rp, op, event_type, match, where, seconds, default, sources, callers, until=until
            )
        seconds = optional_seconds(timeout, what=f"timeout of wait '{op}'")
        return await waits.wait_for(self._rp, op, event_type, match, where, seconds, default, sources, callers)

    async def send(self, event_type: str, detail: object = None, *, name: str | None = None) -> None:
        """Publish an event on the app's EventBridge bus, exactly once per execution path."""
        check_event_type(event_type, where="ctx.send")
        op = name or self._rp.session.auto_name(f"send:{event_type}")
        records = self._rp.request(op, OpType.SEND)
        if Send.state(op, records).sent is not None:
            return
        await self._rp.before_new(op)
        payload = to_json_value(detail if detail is not None else {}, what=f"the detail of event '{event_type}'")
        if not isinstance(payload, dict):
            payload = {"value": payload}
        event = Event(detail_type=event_type, detail=payload, source=self._rp.app.name, time=iso(self._rp.now()))
        event = payloads.store_event_detail(event, cap=EVENT_BYTES)  # a detail over the cap: a claim check
        action = Send(op, event_type, event.detail).decide(SendState())
        assert isinstance(action, Publish)
        check_event_size(event)
        self._rp.effects.publish([event])
        perform(self._rp, op, OpType.SEND, action.record)

    async def progress(self, step: int, total: int, message: str | None = None) -> None:
        """Report progress: emits ``Workflow.progress`` once and stores it on the execution.

        ``client.describe(id).progress`` is then ``{"step", "total", "message"}``.
        """
        op = self._rp.session.auto_name("$progress")
        self._rp.session.mark(op, OpType.PROGRESS)
        action = Progress(op, step, total, message).decide(Progress.state(op, self._rp.records(op)))
        if not isinstance(action, Report):
            return
        refuse_while_suspending()
        size = len(str(message).encode()) if message is not None else 0
        if size > MAX_PROGRESS_MESSAGE_BYTES:  # it is stored on the execution header beside the input
            raise PayloadTooLarge(
                f"the ctx.progress message of execution '{self.execution_id}' is {size:,} bytes, over the "
                f"{MAX_PROGRESS_MESSAGE_BYTES:,}-byte limit; report a short message"
            )
        info = action.info
        event = Event(
            detail_type="Workflow.progress",
            detail={"execution_id": self.execution_id, "workflow": self.workflow, **info},
            source=self._rp.app.name,
            time=iso(self._rp.now()),
        )
        self._rp.effects.publish([event])

        # The header first: recorded first, a crash in between would leave the progress unset for good.
        update_execution(self._rp.store, self.execution_id, lambda rec: setattr(rec, "progress", info))
        perform(self._rp, op, OpType.PROGRESS, action.record)

    async def set_status(self, value: Any) -> None:
        """Set the execution's custom status (a small JSON value, at most 4 KB): ``describe(id).custom_status``."""
        from stepbridge.runtime.status import set_status

        set_status(self._rp, value)

    def metric(self, name: str, value: float, unit: str = "Count") -> None:
        """Record a metric through Powertools Metrics (EMF); skipped while replaying."""
        if self.is_replaying:
            return
        add_metric(name, value, unit, workflow=self.workflow)

    # ---- human tasks -------------------------------------------------------------------

    async def task(
        self,
        name: str,
        *,
        assignees: Sequence[str],
        form: Any = None,
        title: str | None = None,
        data: Any = None,
        due: Duration | BusinessDuration | None = None,
        remind_every: Duration | BusinessDuration | None = None,
        escalate_after: Duration | BusinessDuration | None = None,
        escalate_to: Sequence[str] | None = None,
        calendar: Calendar | None = None,
        decisions: Sequence[str] | None = None,
        keep_assignees: bool = True,
        on_breach: Callable[..., Any] | None = None,
    ) -> Any:
        """Ask a person: create a task in the assignees' inbox and suspend until one of them completes it.

        Returns a ``TaskOutcome`` (``decision``, ``data`` validated by the pydantic ``form``, ``by``,
        ``comment``, ``escalated``). ``remind_every`` emits ``Task.reminder``; ``escalate_after`` adds
        ``escalate_to`` as assignees (``keep_assignees=False``: instead of the originals) and emits
        ``Task.escalated``; ``due`` emits ``Task.sla_breached`` and runs ``on_breach(info)`` as a step.
        Business durations count on ``calendar`` (or ``App(calendar=)``); every instant is computed
        once, when the task is created. See runtime/humantask.py and docs/API.md, "Human tasks".
        """
        from stepbridge.runtime.humantask import run_task

        return await run_task(
            self, name, assignees=assignees, form=form, title=title, data=data, due=due,
            remind_every=remind_every, escalate_after=escalate_after, escalate_to=escalate_to,
            calendar=calendar, decisions=decisions, keep_assignees=keep_assignees, on_breach=on_breach,
        )

    # ---- children ----------------------------------------------------------------------

    async def start_child(
        self,
        workflow: Callable[..., object] | str,
        input: object = None,
        *,
        execution_id: str | None = None,
        name: str | None = None,
    ) -> children.ChildHandle:
        """Start a child workflow and return its handle (``execution_id``, ``input``, ``await result()``)."""
        wf_name = self._rp.app.workflow_name(workflow)
        op = name or self._rp.session.auto_name(f"child:{wf_name}")
        return await children.start_child(self._rp, op, wf_name, input, execution_id)

    async def child(
        self,
        workflow: Callable[..., object] | str,
        input: object = None,
        *,
        execution_id: str | None = None,
        name: str | None = None,
    ) -> Any:
        """Start a child workflow and wait for its result."""
        handle = await self.start_child(workflow, input, execution_id=execution_id, name=name)
        return await handle.result()

    # ---- versioning -----------------------------------------------------------------------

    def patched(self, patch_id: str) -> bool:
        """Guard a code change for executions already in flight (safe deploys).

        Returns ``True`` for executions that reach this point under the new code, and ``False``
        for older executions whose journal already holds operations past it::

            if ctx.patched("use-new-tax-service"):
                tax = await ctx.step("tax-v2", new_tax, order)
            else:
                tax = await ctx.step("tax", old_tax, order)

        The answer is recorded, so every later replay of the execution sees the same value.
        """
        op = f"$patch:{patch_id}"
        self._rp.session.mark(op, OpType.PATCH)
        records = self._rp.records(op)
        replaying = op not in records and bool(self._rp.unconsumed_ops())
        action = Patch(op, patch_id).decide(Patch.state(op, records, replaying=replaying))
        done = perform(self._rp, op, OpType.PATCH, action)
        return done is not None and done.record is not None

    async def continue_as_new(self, input: object = None) -> None:
        """End this execution and start the same workflow afresh with ``input`` (bounded history).

        The current execution ends SUCCEEDED with ``{"continued_as_new": <new id>}``; the new
        execution's id is this one's with a ``~N`` generation suffix.
        """
        raise ContinueAsNew(
            payloads.store_value(to_json_value(input, what="the input of continue_as_new"),
                                 what="the input of continue_as_new")
        )

    # ---- compensation ---------------------------------------------------------------------

    def _compensation(self) -> AbstractContextManager[None]:
        """The block runs saga compensations (they run to the end even while the execution is cancelled)."""
        return self._rp.session.compensation()

    def saga(self) -> Saga:
        """``async with ctx.saga() as saga:`` — register compensations; they run in reverse order on failure."""
        return Saga(self)


@dataclass(frozen=True)
class EnginePorts:
    """What stepbridge's built-in workflows (``patterns``, state machines) use beside ``ctx``: the app, the
    store, the effects and the engine's clock. Not for user code: its reads and writes are not journaled."""

    app: App
    store: Store
    effects: Effects
    now: Callable[[], datetime]


def engine_ports(ctx: Context) -> EnginePorts:
    """The ports behind ``ctx`` (see :class:`EnginePorts`)."""
    rp = ctx.replay
    return EnginePorts(rp.app, rp.store, rp.effects, rp.now)


class Saga:
    """Compensations registered during a block; on an exception they run newest first, then it re-raises."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._compensations: list[tuple[str | None, Callable[..., object], tuple[object, ...]]] = []

    def compensate(self, fn: Callable[..., object], *args: object, name: str | None = None) -> None:
        """Register ``fn(*args)`` to undo work done so far (runs as a durable step if the block fails)."""
        self._compensations.append((name, fn, args))

    async def __aenter__(self) -> Saga:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # success, or a suspension: nothing to undo now
        await self.run()
        return False

    async def run(self) -> None:
        """Run the registered compensations in reverse order (each once, durably)."""
        with self._ctx._compensation():
            for index in range(len(self._compensations) - 1, -1, -1):
                name, fn, args = self._compensations[index]
                op = name or f"compensate-{index}-{getattr(fn, '__name__', 'fn').strip('<>')}"
                await self._ctx.step(op, fn, *args)
