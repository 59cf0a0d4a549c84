"""``Client``: start, inspect, signal and cancel executions — the same class against AWS and LocalCloud.

Against AWS, build it with :meth:`Client.for_stack` (reads the stack's outputs) or from the
``STEPBRIDGE_*`` environment; LocalCloud hands out one from ``cloud.client()``. A *driver*
decides what happens after each call: LocalCloud's runs the local cloud until idle.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from stepbridge.api.app import App, check_event_type
from stepbridge.api.calendar import BusinessDays, BusinessDuration, BusinessHours, Calendar
from stepbridge.api.durations import Duration, optional_seconds
from stepbridge.errors import ExecutionFailedError, ExecutionNotFound, ExecutionStillRunning
from stepbridge.polling import poll_until
from stepbridge.runtime import payloads
from stepbridge.runtime import tasks as task_service
from stepbridge.runtime.business import instant_after
from stepbridge.runtime.codec import to_json_value
from stepbridge.runtime.executions import history, request_cancel, start_execution
from stepbridge.runtime.ids import new_id
from stepbridge.runtime.limits import EVENT_BYTES, check_event_size
from stepbridge.runtime.machines import WORKFLOW_PREFIX as MACHINE_WORKFLOW_PREFIX
from stepbridge.runtime.machines import machine_state
from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import STATUSES, Event, ExecutionRecord, iso
from stepbridge.runtime.vocabulary import Status, is_terminal


class _Mapping:
    """Dict-style access (``d["status"]``) on top of attributes, for scripts that prefer it."""

    def __getitem__(self, key: str) -> object:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: object = None) -> object:
        """``dict.get`` for the attributes."""
        return getattr(self, key, default)

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form."""
        data: dict[str, object] = asdict(self)  # type: ignore[call-overload]
        return data


class ErrorInfo(dict[str, Any]):
    """An execution's error: a dict with ``type`` and ``message``.

    ``str(error)`` is ``"Type: message"`` and ``"declined" in error`` also searches the message,
    so both ``error["message"]`` and quick substring checks work.
    """

    def __contains__(self, item: object) -> bool:
        if super().__contains__(item):
            return True
        return isinstance(item, str) and item in str(self.get("message", ""))

    def __str__(self) -> str:
        return f"{str(self.get('type', '')).rsplit('.', 1)[-1]}: {self.get('message', '')}"


@dataclass
class ExecutionDescription(_Mapping):
    """What ``client.describe(id)`` returns."""

    execution_id: str
    workflow: str
    status: str
    input: Any = None
    result: Any = None
    error: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None
    parent_id: str | None = None
    created_at: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    scheduled_for: str | None = None
    cancel_requested: bool = False
    #: What the workflow last gave ``ctx.set_status`` (``None`` until then).
    custom_status: Any = None
    #: When it times out (``@app.workflow(timeout=)``, set when it starts running); ``None``: no deadline.
    deadline: str | None = None

    @classmethod
    def from_record(cls, rec: ExecutionRecord) -> ExecutionDescription:
        """Build from the stored header."""
        return cls(
            rec.execution_id,
            rec.workflow,
            rec.status,
            rec.input,
            rec.result,
            ErrorInfo(rec.error) if rec.error is not None else None,
            rec.progress,
            rec.parent_id,
            rec.created_at,
            rec.started_at,
            rec.ended_at,
            rec.scheduled_for,
            rec.cancel_requested,
            rec.custom_status,
            rec.deadline,
        )


@dataclass
class HistoryEvent(_Mapping):
    """One entry of ``client.history(id)``: journal facts and the events the execution sent."""

    detail_type: str
    detail: dict[str, Any]
    time: str = ""
    sent: bool = False


class Driver(Protocol):
    """How a client waits: LocalCloud runs its in-process cloud; AWS polls."""

    def settle(self) -> None:
        """Called after every state-changing call."""

    def wait(self, client: Client, execution_id: str, timeout: float | None) -> ExecutionDescription | None:
        """Return when the execution is terminal (or raise ``ExecutionStillRunning``), with the final
        description if it read one (``result()`` then reads no more)."""


class PollingDriver:
    """Against AWS: nothing to settle; wait by polling ``describe`` with backoff."""

    def settle(self) -> None:
        """Nothing: AWS processes in the background."""

    def wait(self, client: Client, execution_id: str, timeout: float | None) -> ExecutionDescription | None:
        """Poll until terminal or ``timeout`` seconds (default 15 minutes); returns the last description read."""
        desc, finished = poll_until(
            lambda: client.describe(execution_id),
            lambda d: is_terminal(d.status),
            timeout=timeout if timeout is not None else 900.0,
        )
        if not finished:
            raise ExecutionStillRunning(f"execution '{execution_id}' did not finish within {timeout} s")
        return desc


@dataclass
class ExecutionHandle:
    """A started execution: ``execution_id``, ``describe()``, ``result()``, ``cancel()``."""

    client: Client
    execution_id: str
    workflow: str
    created: bool = True

    def describe(self) -> ExecutionDescription:
        """The execution's current description."""
        return self.client.describe(self.execution_id)

    @property
    def status(self) -> str:
        """The current status."""
        return self.describe().status

    def result(self, timeout: Duration | None = None) -> Any:
        """Wait for the end and return the result; raises ``ExecutionFailedError`` if it FAILED, was CANCELLED or
        TIMED_OUT (its ``status`` says which)."""
        return self.client.result(self.execution_id, timeout=timeout)

    def cancel(self, *, compensate: bool = False) -> ExecutionDescription:
        """Cancel this execution."""
        return self.client.cancel(self.execution_id, compensate=compensate)


@dataclass
class Client:
    """Operate executions of one app through its store and effects."""

    store: Store
    effects: Effects
    app: App | None = None
    source: str = "stepbridge.client"
    driver: Driver = field(default_factory=PollingDriver)

    def start(
        self,
        workflow: str | Callable[..., Any],
        input: Any = None,
        *,
        execution_id: str | None = None,
        at: datetime | None = None,
        delay: Duration | timedelta | BusinessDuration | None = None,
        calendar: Calendar | None = None,
    ) -> ExecutionHandle:
        """Start ``workflow`` with ``input``; idempotent by ``execution_id``.

        ``at`` / ``delay`` defer the start (status SCHEDULED until then; ``cancel`` works). A business
        ``delay`` (``BusinessDays(1)``) counts on ``calendar`` (or ``App(calendar=)``); the start instant
        is computed now and stored on the execution, so a later calendar change does not move it.
        Raises ``UnknownWorkflowError`` for a name the app does not have and
        ``ExecutionAlreadyExists`` when the id exists with another workflow or input.
        """
        name = self.app.workflow_name(workflow) if self.app else str(workflow)
        if self.app is not None:
            wf = self.app.get_workflow(name)
            serde = wf.serde or self.app.serde
            if serde is not None:  # the workflow's own encoding of its input (api/serde.py)
                input = to_json_value(input, what=f"the input of workflow '{name}'", serde=serde)
        when = at
        if isinstance(delay, BusinessDays | BusinessHours):
            when = instant_after(self.app, self.effects.now(), delay, calendar, what=f"start delay of '{name}'")
        elif delay is not None:
            seconds = optional_seconds(delay, what="start delay") or 0.0
            when = self.effects.now() + timedelta(seconds=seconds)
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        record, created = start_execution(self.store, self.effects, name, input, execution_id=execution_id, at=when)
        self.driver.settle()
        return ExecutionHandle(self, record.execution_id, name, created)

    def describe(self, execution_id: str) -> ExecutionDescription:
        """Status, input, result, error and progress of an execution (``ExecutionNotFound`` if unknown)."""
        rec = self.store.get_execution(execution_id)
        if rec is None:
            raise ExecutionNotFound(f"no execution '{execution_id}'")
        desc = ExecutionDescription.from_record(rec)
        # Claim checks (runtime/payloads.py) are read back: the caller sees the values themselves.
        desc.input, desc.result = payloads.resolve(desc.input), payloads.resolve(desc.result)
        return desc

    def result(self, execution_id: str, *, timeout: Duration | None = None) -> Any:
        """Wait for an execution to end; return its result or raise ``ExecutionFailedError``."""
        # The driver's last read is the final one (one GetItem fewer per result()).
        desc = self.driver.wait(self, execution_id, optional_seconds(timeout)) or self.describe(execution_id)
        if desc.status == Status.SUCCEEDED:
            return desc.result
        if not is_terminal(desc.status):
            raise ExecutionStillRunning(f"execution '{execution_id}' is still {desc.status}")
        raise ExecutionFailedError(execution_id, desc.status, desc.error)

    def history(self, execution_id: str) -> list[HistoryEvent]:
        """The execution's journal as events (``detail_type``/``detail``), oldest first."""
        rec = self.store.get_execution(execution_id)
        if rec is None:
            raise ExecutionNotFound(f"no execution '{execution_id}'")
        return [
            HistoryEvent(e["detail_type"], e["detail"], e.get("time", ""), bool(e.get("sent")))
            for e in history(self.store.load_journal(execution_id), rec)
        ]

    def send_event(self, event_type: str, detail: Any = None, *, source: str | None = None) -> str:
        """Put an event on the app's bus (as an external system would); returns its id."""
        check_event_type(event_type, where="send_event")
        payload = to_json_value(detail if detail is not None else {}, what=f"the detail of event '{event_type}'")
        if not isinstance(payload, dict):
            raise TypeError(f"the detail of event '{event_type}' must be a JSON object, got {type(payload).__name__}")
        event_id = new_id()
        event = Event(event_type, payload, source=source or self.source, id=event_id, time=iso(self.effects.now()))
        event = payloads.store_event_detail(event, cap=EVENT_BYTES)  # a detail over the cap: a claim check
        check_event_size(event)
        self.effects.publish([event])
        self.driver.settle()
        return event_id

    def complete_callback(self, token: str, result: Any = None) -> dict[str, Any]:
        """Complete the callback of ``token`` with ``result`` (``CallbackNotFound``; ``CallbackAlreadyCompleted``
        when it was completed, failed or timed out already: a token is single-use)."""
        from stepbridge.runtime import callbacks

        try:
            return callbacks.complete(self.store, self.effects, token, result)
        finally:
            self.driver.settle()  # (a 409 may have sent a lost wake-up again: runtime/callbacks.py)

    def fail_callback(self, token: str, *, error: str | None = None, message: str | None = None) -> dict[str, Any]:
        """Fail the callback of ``token``: the workflow's ``cb.result()`` raises ``CallbackFailed(error, message)``."""
        from stepbridge.runtime import callbacks

        try:
            return callbacks.fail(self.store, self.effects, token, error, message)
        finally:
            self.driver.settle()  # (a 409 may have sent a lost wake-up again: runtime/callbacks.py)

    def heartbeat_callback(self, token: str) -> dict[str, Any]:
        """Tell the waiting workflow the external work is alive: its ``heartbeat`` interval starts again."""
        from stepbridge.runtime import callbacks

        try:
            return callbacks.heartbeat(self.store, self.effects, token)
        finally:
            self.driver.settle()  # (a 409 may have sent a lost wake-up again: runtime/callbacks.py)

    def cancel(self, execution_id: str, *, compensate: bool = False) -> ExecutionDescription:
        """Cancel a running, sleeping, waiting or scheduled execution (and its children)."""
        request_cancel(self.store, self.effects, execution_id, compensate=compensate)
        self.driver.settle()
        return self.describe(execution_id)

    def list(
        self,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        *,
        include_internal: bool = False,
    ) -> list[ExecutionDescription]:
        """Executions, newest first, optionally by workflow and status.

        The framework's own executions (``stepbridge.sm.<machine>``: one per state-machine event) are
        left out unless ``include_internal=True`` or ``workflow=`` names one of them.
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; use one of {sorted(STATUSES)}")
        if include_internal or workflow is not None:
            return [ExecutionDescription.from_record(r) for r in self.store.list_executions(workflow, status, limit)]
        fetch = limit
        while True:  # ask for more until ``limit`` user executions are found or the store has no more
            records = self.store.list_executions(None, status, fetch)
            kept = [r for r in records if not r.workflow.startswith(MACHINE_WORKFLOW_PREFIX)]
            if len(kept) >= limit or len(records) < fetch:
                return [ExecutionDescription.from_record(r) for r in kept[:limit]]
            fetch *= 2

    # ---- human tasks (the inbox; docs/API.md, "Human tasks") ----------------------------------------------
    # The client runs with operator credentials, so ``by`` names the person acting; the HTTP API takes it
    # from the request's authenticated identity instead (never from the body).

    def tasks(self, assignee: str, status: str | None = "open", *, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """The inbox of ``assignee``: tasks they may act on with ``status`` (open, claimed, completed,
        cancelled; ``"active"`` = open or claimed; ``None`` = all), oldest first - Queries of the ``by-assignee``
        index, never a scan."""
        return task_service.list_tasks(self.store, assignee, status, limit)

    def task(self, task_id: str) -> task_service.TaskRecord:
        """One task with its audit trail (``TaskNotFound`` if unknown)."""
        return task_service.get_task(self.store, task_id)

    def claim_task(self, task_id: str, *, by: str) -> task_service.TaskRecord:
        """Claim a task for ``by`` (an assignee); ``TaskForbidden`` / ``TaskConflict`` otherwise."""
        task = task_service.claim_task(self.store, self.effects, task_id, by)
        self.driver.settle()
        return task

    def complete_task(
        self, task_id: str, *, by: str, decision: str, data: Any = None, comment: str = ""
    ) -> task_service.TaskRecord:
        """Complete a task as ``by``; ``data`` is validated by the task's form. Its workflow resumes."""
        task = task_service.complete_task(
            self.store, self.effects, task_id, by, decision, to_json_value(data, what="task data"), comment
        )
        self.driver.settle()
        return task

    def release_task(self, task_id: str, *, by: str) -> task_service.TaskRecord:
        """Give back a task ``by`` claimed."""
        task = task_service.release_task(self.store, self.effects, task_id, by)
        self.driver.settle()
        return task

    def reassign_task(self, task_id: str, *, by: str, to: builtins.list[str]) -> task_service.TaskRecord:
        """Replace a task's assignees with ``to`` (``by`` must be a current assignee)."""
        task = task_service.reassign_task(self.store, self.effects, task_id, by, to)
        self.driver.settle()
        return task

    def machine_state(self, machine: str, key: str) -> dict[str, Any] | None:
        """``{"state", "context", "version"}`` of a state machine instance (``None`` before its first event)."""
        return machine_state(self.store, machine, key)

    @classmethod
    def for_stack(cls, stack_name: str, *, region: str | None = None, app: App | None = None) -> Client:
        """A client for a deployed stack, configured from its CloudFormation outputs."""
        # Imported here, not at the top: it loads boto3, which a client on other ports does not need.
        from stepbridge.infra.stack import stack_ports

        store, effects = stack_ports(stack_name, region=region)
        return cls(store, effects, app=app)
