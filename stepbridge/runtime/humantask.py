"""``ctx.task(...)``: a human task built on the engine's existing primitives.

1. the inline step ``task:{name}`` stores the task (runtime/tasks.py) and computes its timers once -
   ``due``, ``escalate_after`` and the first ``remind_every`` on the calendar - returning them, so they
   are journaled instants: a calendar edited later moves none of them;
2. the workflow waits for the task's ``Task.completed`` event (``wait_for`` restricted to the source
   ``stepbridge.tasks``, which no API caller may use) with the earliest pending timer as its deadline,
   as the op ``task:{name}:wait-{k}``;
3. a timer that passes first runs as the inline step ``task:{name}:{remind|escalate|due}-{k}``: it
   updates the task (audit, escalation targets) and emits ``Task.reminder`` / ``Task.escalated`` /
   ``Task.sla_breached``; ``due`` also runs ``on_breach(info)`` as the step ``task:{name}:on-breach``;
   then the workflow waits again. A tick that finds the task completed (its event was lost) ends the wait;
   so the wait is never timer-less: a safety re-check every :data:`RECHECK_SECONDS` (from the task's
   creation, journaled) runs as ``task:{name}:check-{k}`` and ends the wait if the task item says completed
   - a completion whose ``Task.completed`` never got out still resumes the workflow (docs/RELIABILITY.md);
4. the step ``task:{name}:outcome`` reads the completed task: the outcome plus the audit trail, in the
   execution's history.

The task item is the truth; events only wake. Cancelling the execution (or its ending any other way)
cancels the task: the orchestrator's clean-up (``cancel_open_tasks``) emits ``Task.cancelled``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from stepbridge.api.calendar import Calendar
from stepbridge.errors import TaskError, WorkflowDefinitionError
from stepbridge.runtime import business, tasks, waits
from stepbridge.runtime.codec import to_json_value
from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, OpType

if TYPE_CHECKING:
    from stepbridge.runtime.context import Context

#: Key of a ``task:{name}`` step's result that names the task (the orchestrator's clean-up finds it).
TASK_MARK = "$task"
_TIMERS = ("due", "escalate", "remind")
#: The safety re-check of a waiting task: a day bounds how long a completion whose event was lost (the API
#: died between the task write and PutEvents) goes unnoticed, at one timer and one inline step per day waited.
RECHECK_SECONDS = 24 * 3600


@dataclass
class TaskOutcome:
    """What ``await ctx.task(...)`` returns: the decision, the form's data (a model instance when the task
    has a ``form``), who completed it, their comment, whether it had been escalated, and the audit trail."""

    decision: str
    data: Any
    by: str
    comment: str = ""
    escalated: bool = False
    task_id: str = ""
    completed_at: str = ""
    audit: list[dict[str, object]] = field(default_factory=list)


def _check(
    name: str, assignees: object, form: object, remind_every: Any, escalate_after: object, escalate_to: object,
    decisions: object,
) -> None:
    where = f"ctx.task('{name}')"
    try:
        tasks.check_assignees(assignees, f"{where}: assignees")
        if escalate_to is not None:
            tasks.check_assignees(escalate_to, f"{where}: escalate_to")
        if decisions is not None:
            tasks.check_assignees(decisions, f"{where}: decisions")
    except TaskError as exc:
        raise WorkflowDefinitionError(str(exc)) from None
    if (escalate_after is None) != (escalate_to is None):
        raise WorkflowDefinitionError(f"{where}: escalate_after= and escalate_to= go together; give both or neither")
    if form is not None:
        import pydantic

        if not (isinstance(form, type) and issubclass(form, pydantic.BaseModel)):
            raise WorkflowDefinitionError(f"{where}: form= must be a pydantic model class, got {form!r}")
    if remind_every is not None and not business.is_business(remind_every):
        from stepbridge.api.durations import to_seconds

        if to_seconds(remind_every, what=f"{where}: remind_every") <= 0:
            raise WorkflowDefinitionError(f"{where}: remind_every must be longer than zero")
    if isinstance(remind_every, business.BUSINESS_TYPES) and remind_every == type(remind_every)(0):
        raise WorkflowDefinitionError(f"{where}: remind_every must be longer than zero")


@dataclass
class _TaskRun:
    """One ``ctx.task`` call: its options and the inline steps' bodies (each a bound method, replay-safe)."""

    ctx: Context
    name: str
    assignees: Sequence[str]
    form: Any
    title: str | None
    due: object
    remind_every: object
    escalate_after: object
    escalate_to: Sequence[str] | None
    calendar: Calendar | None
    decisions: Sequence[str] | None
    keep_assignees: bool
    task_id: str = ""
    payload: object = None

    def at(self, start: datetime, duration: object, what: str) -> str | None:
        """The instant ``duration`` after ``start`` (business time on the calendar), or None."""
        if duration is None:
            return None
        rp = self.ctx.replay
        where = f"ctx.task('{self.name}'): {what}"
        return iso(business.instant_after(rp.app, start, duration, self.calendar, what=where))

    def create(self) -> dict[str, object]:
        """The step ``task:{name}``: store the task and journal its first timers."""
        rp = self.ctx.replay
        now = rp.now()
        form, escalate_to, decisions = self.form, self.escalate_to, self.decisions
        used_calendar = self.calendar if self.calendar is not None else getattr(rp.app, "calendar", None)
        record = tasks.TaskRecord(
            task_id=self.task_id, execution_id=rp.execution_id, workflow=self.ctx.workflow, name=self.name,
            title=self.title or self.name, assignees=list(self.assignees), created_at=iso(now), data=self.payload,
            escalate_to=list(escalate_to or ()), keep_assignees=self.keep_assignees,
            decisions=list(decisions) if decisions is not None else None,
            form=tasks.form_path(form) if form is not None else None,
            form_schema=form.model_json_schema() if form is not None else None,
            due_at=self.at(now, self.due, "due"), escalate_at=self.at(now, self.escalate_after, "escalate_after"),
            remind_at=self.at(now, self.remind_every, "remind_every"),
            calendar=used_calendar.to_dict() if isinstance(used_calendar, Calendar) else None,
            expires_at=_expiry(rp.app, now),
        )
        stored = tasks.create_task(rp.store, rp.effects, record)
        return {TASK_MARK: stored.task_id, "due": stored.due_at, "escalate": stored.escalate_at,
                "remind": stored.remind_at, "created": stored.created_at}

    def tick(self, tid: str, kind: str, fired_at: str) -> dict[str, object]:
        """The step ``task:{name}:{kind}-{k}``: act on the timer that passed; the next one, if it repeats."""
        rp = self.ctx.replay
        nxt: str | None = None
        if kind == "remind":
            nxt = self.at(parse_iso(fired_at), self.remind_every, "remind_every")
            task = tasks.remind_task(rp.store, rp.effects, tid, fired_at, nxt)
        elif kind == "escalate":
            task = tasks.escalate_task(rp.store, rp.effects, tid, fired_at)
        elif kind == "check":
            nxt = _after(fired_at)
            task = tasks.get_task(rp.store, tid)
        else:
            task = tasks.breach_task(rp.store, rp.effects, tid, fired_at)
        return {"completed": task.status == tasks.COMPLETED, "next": nxt}

    def read(self, tid: str) -> dict[str, object]:
        """The step ``task:{name}:outcome``: the completed task's outcome and audit trail."""
        task = tasks.get_task(self.ctx.replay.store, tid)
        return {"outcome": task.outcome, "audit": task.audit}


async def run_task(
    ctx: Context,
    name: str,
    *,
    assignees: Sequence[str],
    form: Any = None,
    title: str | None = None,
    data: object = None,
    due: object = None,
    remind_every: object = None,
    escalate_after: object = None,
    escalate_to: Sequence[str] | None = None,
    calendar: Calendar | None = None,
    decisions: Sequence[str] | None = None,
    keep_assignees: bool = True,
    on_breach: Callable[..., Any] | None = None,
) -> TaskOutcome:
    """The body of ``ctx.task`` (module docstring)."""
    rp = ctx.replay
    _check(name, list(assignees) if isinstance(assignees, list | tuple) else assignees, form, remind_every,
           escalate_after, list(escalate_to) if escalate_to is not None else None, decisions)
    for value, what in ((due, "due"), (remind_every, "remind_every"), (escalate_after, "escalate_after")):
        if business.is_business(value):
            business.calendar_for(rp.app, calendar, value, what=f"ctx.task('{name}'): {what}")
    run = _TaskRun(ctx, name, assignees, form, title, due, remind_every, escalate_after, escalate_to, calendar,
                   decisions, keep_assignees)
    run.task_id = "tk-" + ctx.uuid().replace("-", "")
    run.payload = to_json_value(data, what=f"the data of task '{name}'")
    spec = await ctx.step(f"task:{name}", run.create)
    tid = str(spec[TASK_MARK])
    timers: dict[str, str | None] = {k: spec.get(k) for k in _TIMERS}
    # Executions journaled before the re-check have no "created" in their spec: they replay as they ran.
    timers["check"] = _after(spec["created"]) if spec.get("created") else None
    if form is not None:
        tasks.form_path(form)  # registered in this process on every replay (the API of LocalCloud reads it)
    await _wait_until_done(run, tid, timers, on_breach)
    final = await ctx.step(f"task:{name}:outcome", partial(run.read, tid))
    return _outcome(final, form, tid)


async def _wait_until_done(
    run: _TaskRun, tid: str, timers: dict[str, str | None], on_breach: Callable[..., Any] | None
) -> None:
    """Wait for ``Task.completed``, running each timer that passes first as its inline step (module docstring)."""
    ctx, name, rp = run.ctx, run.name, run.ctx.replay
    k = 0
    while True:
        pending = sorted((str(v), kind) for kind, v in timers.items() if v)
        until = parse_iso(pending[0][0]) if pending else None
        seconds = (until - rp.now()).total_seconds() if until is not None else None
        event = await waits.wait_for(
            rp, f"task:{name}:wait-{k}", "Task.completed", {"task_id": tid}, None, seconds, None,
            [tasks.TASK_SOURCE], None, until=until,
        )
        if event is not None:
            return
        fired_at, kind = pending[0]
        ticked = await ctx.step(f"task:{name}:{kind}-{k}", partial(run.tick, tid, kind, fired_at))
        timers[kind] = ticked.get("next")
        if kind == "due" and on_breach is not None:
            info = {"task_id": tid, "execution_id": ctx.execution_id, "name": name, "due_at": fired_at}
            await ctx.step(f"task:{name}:on-breach", on_breach, info)
        if ticked.get("completed"):
            return
        k += 1


def _outcome(final: dict[str, Any], form: Any, tid: str) -> TaskOutcome:
    """The :class:`TaskOutcome` of the journaled ``outcome`` step (the form's data validated into its model)."""
    outcome = final.get("outcome") or {}
    value = outcome.get("data")
    if form is not None:
        value = form.model_validate(value if value is not None else {})
    return TaskOutcome(
        decision=str(outcome.get("decision", "")), data=value, by=str(outcome.get("by", "")),
        comment=str(outcome.get("comment") or ""), escalated=bool(outcome.get("escalated")), task_id=tid,
        completed_at=str(outcome.get("at", "")), audit=list(final.get("audit") or []),
    )


def _after(instant: str) -> str:
    """The safety re-check :data:`RECHECK_SECONDS` after ``instant`` (journaled instants only: replay-safe)."""
    return iso(parse_iso(instant) + timedelta(seconds=RECHECK_SECONDS))


def _expiry(app: Any, now: datetime) -> str | None:
    """The task items' expiry under ``App(retention=)``: the backstop of the execution's items."""
    from datetime import UTC

    from stepbridge.runtime.retention import backstop, retention_seconds

    seconds = retention_seconds(app)
    return None if seconds is None else iso(datetime.fromtimestamp(backstop(now, seconds), UTC))


def open_task_ids(journal: Sequence[JournalRecord]) -> list[str]:
    """Ids of the tasks an execution created (the results of its ``task:{name}`` steps)."""
    found: list[str] = []
    for r in journal:
        result = r.data.get("result") if r.type == OpType.STEP and r.kind == Kind.RESULT else None
        if isinstance(result, dict) and isinstance(result.get(TASK_MARK), str) and r.op.startswith("task:"):
            found.append(result[TASK_MARK])
    return found


def cancel_open_tasks(
    store: Store, effects: Effects, journal: Sequence[JournalRecord], reason: str
) -> list[str]:
    """Cancel every still-active task of a finished execution (idempotent); returns the ids cancelled now."""
    now = effects.now()
    return [tid for tid in open_task_ids(journal) if tasks.cancel_task(store, effects, tid, now, reason)]


__all__ = ["TaskOutcome", "cancel_open_tasks", "open_task_ids", "run_task"]
