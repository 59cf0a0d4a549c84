"""The console's LocalCloud and everything the browser may ask of it, as plain-JSON methods.

One :class:`DevSession` owns one LocalCloud. LocalCloud is single-threaded (one virtual clock, one
delivery loop), while the HTTP server answers on several threads (the live stream holds one open),
so every call into the cloud goes through ``self.lock``. Each action that may change what the
browser shows bumps :class:`Changes`, which the live stream waits on.

Everything here goes through the public :class:`~stepbridge.client.Client` (``list``,
``describe``, ``history``, ``start``, ``send_event``, ``cancel`` and the task inbox), so the
console shows what a client of a deployed stack would see. Human tasks are used only if the
client has them (``client.tasks``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from stepbridge.api.calendar import BusinessDays, BusinessHours, Calendar
from stepbridge.devconsole.errors import ConsoleError, one_line
from stepbridge.devconsole.forms import example_of, form_fields, schema_of
from stepbridge.devconsole.tags import execution_tags
from stepbridge.operator.local import LocalSession
from stepbridge.operator.report import event_log, render_timeline_html
from stepbridge.runtime.records import STATUSES, TERMINAL, iso

if TYPE_CHECKING:
    from stepbridge.api.app import App
    from stepbridge.client import Client, Driver
    from stepbridge.local.cloud import LocalCloud

T = TypeVar("T")

#: Business units for the clock control when the app names no calendar: Monday to Friday, 09:00-17:00 UTC.
DEFAULT_CALENDAR = Calendar("UTC", workdays="mon-fri", hours=("09:00", "17:00"))
#: Executions listed at most (newest first); the filters apply within them.
LIST_LIMIT = 200
_BUSINESS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(bd|bh)\s*$", re.IGNORECASE)


class Changes:
    """A version number that grows with every change the browser should redraw; the live stream waits on it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0
        self.closed = False

    def bump(self) -> None:
        """Something changed: wake every stream."""
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def poke(self) -> None:
        """Only the clock moved: wake the streams without a redraw."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """The server stops: every stream ends."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Return the version once it differs from ``seen``, or after ``timeout`` seconds, or on a poke."""
        with self._cond:
            if self.version == seen and not self.closed:
                self._cond.wait(timeout)
            return self.version


class ClockState(TypedDict):
    """The live stream's payload: the virtual time, the next one-time timer, the speed and the change version."""

    now: str
    next_timer: str | None
    speed: float
    version: int


def plain(value: object) -> object:
    """A JSON-ready form of a description, a task or a history entry (dicts, dataclasses, ``to_dict``)."""
    if isinstance(value, type):  # a task's form class: its name (its fields are drawn from the schema)
        return value.__name__
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return plain(to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, datetime):
        return iso(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return plain(model_dump(mode="json"))
    return str(value)


class DevSession:
    """A LocalCloud for the console (memory backend by default), its lock, its clock controls and change feed."""

    def __init__(
        self,
        app: App,
        *,
        backend: str = "memory",
        schedules: bool = False,
        speed: float = 0.0,
        start: datetime | None = None,
        calendar: Calendar | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.schedules = schedules
        self.start_at = start
        self.calendar = calendar or getattr(app, "calendar", None) or DEFAULT_CALENDAR
        self.lock = threading.RLock()
        self.changes = Changes()
        self.speed = 0.0
        self._session: LocalSession | None = None
        self._client: Client | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._initial_speed = speed
        #: Tags of finished executions by id (a finished journal no longer changes; a list reads only the others).
        self._finished_tags: dict[str, list[str]] = {}
        #: Tags of unfinished executions with the change version (and status) they were read at.
        self._running_tags: dict[str, tuple[int, str, list[str]]] = {}

    # ---- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> DevSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Start the cloud (recurring schedules off unless asked, as for `stepbridge run`)."""
        session = LocalSession(self.app, backend=self.backend, schedules=self.schedules, start=self.start_at)
        cloud = session.__enter__().cloud
        self._session = session
        self._client = cloud.client()
        self._client.driver = _Announcing(self._client.driver, self.changes)
        if self._initial_speed:
            self.set_speed(self._initial_speed)

    def close(self) -> None:
        """Stop the clock thread, end the streams and stop the cloud."""
        self._stop.set()
        self.changes.close()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        with self.lock:
            if self._session is not None:
                self._session.__exit__()
                self._session = None

    @property
    def cloud(self) -> LocalCloud:
        """The running cloud."""
        if self._session is None:
            raise RuntimeError("the console session is not open")
        return self._session.cloud

    @property
    def client(self) -> Client:
        """The cloud's client."""
        if self._client is None:
            raise RuntimeError("the console session is not open")
        return self._client

    def read(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` with the cloud to itself (no delivery runs meanwhile)."""
        with self.lock:
            return fn()

    def act(self, fn: Callable[[], T]) -> T:
        """Run a state-changing ``fn`` with the cloud to itself, then tell the streams."""
        try:
            with self.lock:
                return fn()
        finally:
            self.changes.bump()

    # ---- what the app has ------------------------------------------------------------------------

    def overview(self) -> dict[str, object]:
        """The app, the clock and what the forms offer (workflows with an input skeleton, event types)."""
        from stepbridge.api.app import input_type_of

        workflows = []
        for name, wf in sorted(self.app.workflows.items()):
            schema = schema_of(input_type_of(wf)) if wf.takes_input else None
            workflows.append({"name": name, "takes_input": wf.takes_input, "description": wf.description,
                              "example": example_of(schema) if wf.takes_input else None})
        types: set[str] = set()
        for trigger in self.app.triggers:
            types.update(trigger.event_types)
        for binding in self.app.machines.values():
            types.update(binding.events)
        with self.lock:
            now = self.cloud.now()
            timer = self.cloud.timers.peek(one_time_only=True)
        return {
            "app": self.app.name,
            "backend": self.backend,
            "now": iso(now),
            "next_timer": iso(timer.at) if timer is not None else None,
            "speed": self.speed,
            "version": self.changes.version,
            "calendar": self.calendar.to_dict(),
            "workflows": workflows,
            "event_types": sorted(types),
            "statuses": sorted(STATUSES),
            "tasks": self.tasks_available(),
        }

    def clock(self) -> ClockState:
        """The virtual time, the next one-time timer and the clock's speed (the live stream's payload)."""
        with self.lock:
            timer = self.cloud.timers.peek(one_time_only=True)
            return {"now": iso(self.cloud.now()), "next_timer": iso(timer.at) if timer is not None else None,
                    "speed": self.speed, "version": self.changes.version}

    # ---- executions ------------------------------------------------------------------------------

    def executions(self, *, workflow: str | None = None, status: str | None = None, tag: str | None = None,
                   limit: int = 50) -> dict[str, object]:
        """Newest first, by workflow, status and tag; with each one's tags and the tags seen overall."""
        if status and status.upper() not in STATUSES:
            raise ConsoleError(400, f"unknown status {status!r}; use one of {', '.join(sorted(STATUSES))}")
        limit = max(1, min(int(limit), LIST_LIMIT))
        with self.lock:
            client = self.client
            found = client.list(workflow or None, status.upper() if status else None,
                                LIST_LIMIT if tag else limit)
            rows = []
            seen: set[str] = set()
            for description in found:
                tags = self._tags(description)
                seen.update(tags)
                if tag and tag not in tags:
                    continue
                rows.append({
                    "execution_id": description.execution_id,
                    "workflow": description.workflow,
                    "status": description.status,
                    "created_at": description.created_at,
                    "started_at": description.started_at,
                    "ended_at": description.ended_at,
                    "parent_id": description.parent_id,
                    "tags": tags,
                })
        return {"executions": rows[:limit], "tags": sorted(seen), "version": self.changes.version}

    def _tags(self, description: Any) -> list[str]:
        """An execution's tags; a finished one's journal no longer changes, so its tags are kept."""
        key = description.execution_id
        kept = self._finished_tags.get(key)
        if kept is not None:
            return kept
        version = self.changes.version  # nothing was delivered since: the journal is as it was
        seen = self._running_tags.get(key)
        if seen is not None and seen[0] == version and seen[1] == description.status:
            return seen[2]
        tags = execution_tags(description, self.client.history(key))
        if description.status in TERMINAL:
            self._finished_tags[key] = tags
            self._running_tags.pop(key, None)
        else:
            self._running_tags[key] = (version, description.status, tags)
        return tags

    def execution(self, execution_id: str) -> dict[str, object]:
        """One execution: its description, the report's timeline fragment, its history lines and tags."""
        with self.lock:
            description = self.client.describe(execution_id)
            history = self.client.history(execution_id)
            now = iso(self.cloud.now())
        return {
            "execution": plain(description),
            "timeline_html": render_timeline_html(description, history, now=now),
            "history": event_log(history),
            "tags": execution_tags(description, history),
            "version": self.changes.version,
        }

    def start_workflow(self, workflow: str, payload: object, execution_id: str | None = None) -> dict[str, object]:
        """Start ``workflow``; its input is checked against the type hint first, for a clear 400."""
        from stepbridge.api.app import input_type_of

        wf = self.app.workflows.get(workflow)
        if wf is None:
            raise ConsoleError(404, f"unknown workflow {workflow!r}; known: {', '.join(sorted(self.app.workflows))}")
        if wf.takes_input:
            _validate_input(input_type_of(wf), payload, f"the input of workflow '{workflow}'")

        def start() -> dict[str, object]:
            handle = self.client.start(workflow, payload, execution_id=execution_id or None)
            return {"execution_id": handle.execution_id, "created": handle.created,
                    "status": self.client.describe(handle.execution_id).status}

        return self.act(start)

    def send_event(self, event_type: str, detail: object) -> dict[str, object]:
        """Put an event on the app's bus, as an external system would."""
        if not isinstance(detail, dict):
            raise ConsoleError(400, f"the detail of event {event_type!r} must be a JSON object")
        return self.act(lambda: {"event_id": self.client.send_event(event_type, detail)})

    def cancel(self, execution_id: str, compensate: bool = False) -> dict[str, object]:
        """Cancel an execution (and its children)."""
        return self.act(lambda: {"status": self.client.cancel(execution_id, compensate=compensate).status})

    # ---- the virtual clock ---------------------------------------------------------------------------

    def advance(self, text: str) -> dict[str, object]:
        """Move the clock by ``90s``/``15m``/``48h``/``7d``/``2w``, or ``2bd``/``4bh`` on the business calendar."""

        def run() -> dict[str, object]:
            now = self.cloud.now()
            target = self.target_of(text, now)
            deliveries = self.cloud.advance_to(target)
            return {"from": iso(now), "now": iso(self.cloud.now()), "deliveries": deliveries}

        return self.act(run)

    def target_of(self, text: str, now: datetime) -> datetime:
        """The instant ``text`` names from ``now`` (business units on ``self.calendar``)."""
        from stepbridge.operator.console import OperatorError, parse_duration

        business = _BUSINESS.match(text or "")
        if business:
            amount, unit = business.group(1), business.group(2).lower()
            if unit == "bd":
                if not float(amount).is_integer():
                    raise ConsoleError(400, f"advance: {text!r}: business days are whole days; use e.g. 2bd or 12bh")
                return self.calendar.add(now, BusinessDays(int(float(amount))))
            return self.calendar.add(now, BusinessHours(float(amount)))
        try:
            return now + parse_duration(text or "", "advance")
        except OperatorError as exc:
            raise ConsoleError(400, f"{exc} (or 2bd / 4bh on the business calendar)") from None

    def next_timer(self) -> dict[str, object]:
        """Jump to the next one-time timer (a sleep, a wait's timeout, a retry, a task reminder) and deliver it."""

        def run() -> dict[str, object]:
            timer = self.cloud.timers.peek(one_time_only=True)
            if timer is None:
                raise ConsoleError(409, "no timer is set: nothing waits on the clock "
                                        "(send an event or start a workflow)")
            before = self.cloud.now()
            deliveries = self.cloud.advance_to(timer.at)
            return {"from": iso(before), "now": iso(self.cloud.now()), "deliveries": deliveries}

        return self.act(run)

    def set_speed(self, speed: float) -> dict[str, object]:
        """0 pauses the clock; 1 runs it at wall-clock pace; 60 makes a real second a virtual minute."""
        if not 0 <= speed <= 86_400:
            raise ConsoleError(400, f"speed {speed!r} must be between 0 (paused) and 86400 (a day a second)")
        self.speed = float(speed)
        if self.speed and self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="stepbridge-dev-clock", daemon=True)
            self._ticker.start()
        self.changes.bump()
        return {"speed": self.speed}

    def _tick(self, interval: float = 0.5) -> None:
        """While the clock runs, move it ``interval * speed`` every ``interval`` real seconds."""
        while not self._stop.wait(interval):
            self.tick(interval)

    def tick(self, interval: float) -> None:
        """One step of the running clock: ``interval * speed`` virtual seconds, then tell the streams."""
        if not self.speed:
            return
        with self.lock:
            if self._session is None:
                return
            deliveries = self._session.cloud.advance(timedelta(seconds=interval * self.speed))
        if deliveries:
            self.changes.bump()
        else:
            self.changes.poke()

    # ---- human tasks (when the client has them) ---------------------------------------------------------

    def tasks_available(self) -> bool:
        """This version of stepbridge has human tasks (``client.tasks``)."""
        return callable(getattr(self._client, "tasks", None))

    def _task_api(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name, None)
        if not callable(method):
            raise ConsoleError(501, f"this stepbridge has no human tasks (client.{name}); upgrade to use the inbox")
        return method  # type: ignore[no-any-return]

    def tasks(self, *, assignee: str | None = None, status: str | None = None) -> dict[str, object]:
        """The inbox: tasks ``assignee`` may act on (every task when empty) in ``status``, each with its form.

        With an assignee this is ``client.tasks(assignee, status)`` (one Query of the inbox index); the
        console then reads each task (``client.task``) for its data, decisions and form. Without one,
        the task ids come from the ``Task.*`` events this LocalCloud captured - a development view only
        (a deployed inbox is always per person).
        """
        list_tasks = self._task_api("tasks")
        get_task = self._task_api("task")
        with self.lock:
            if assignee:
                ids = [str(row.get("task_id")) for t in list_tasks(assignee, status or None)
                       if isinstance(row := plain(t), dict)]
            else:
                ids = list(dict.fromkeys(
                    str(e.detail.get("task_id")) for e in self.cloud.events
                    if e.detail_type.startswith("Task.") and e.detail.get("task_id")
                ))
            views = [self._task_view(get_task(task_id)) for task_id in ids]
        if status:  # "active" (open or claimed) is the task service's filter for an inbox
            wanted = ("open", "claimed") if status == "active" else (status,)
            views = [v for v in views if v.get("status") in wanted]
        return {"tasks": views, "version": self.changes.version}

    def task(self, task_id: str) -> dict[str, object]:
        """One task with its audit trail and form."""
        get_task = self._task_api("task")
        with self.lock:
            return {"task": self._task_view(get_task(task_id)), "version": self.changes.version}

    def claim_task(self, task_id: str, by: str) -> dict[str, object]:
        """Claim a task as ``by`` (the console's chosen identity)."""
        claim = self._task_api("claim_task")
        return self.act(lambda: {"task": self._task_view(claim(task_id, by=by))})

    def release_task(self, task_id: str, by: str) -> dict[str, object]:
        """Give back a task ``by`` claimed."""
        release = self._task_api("release_task")
        return self.act(lambda: {"task": self._task_view(release(task_id, by=by))})

    def complete_task(self, task_id: str, by: str, decision: str, data: object, comment: str) -> dict[str, object]:
        """Complete a task as ``by``; the task's form validates ``data``."""
        complete = self._task_api("complete_task")
        return self.act(lambda: {"task": self._task_view(
            complete(task_id, by=by, decision=decision, data=data, comment=comment))})

    def _task_view(self, task: object) -> dict[str, object]:
        data = plain(task)
        if not isinstance(data, dict):
            return {"value": data}
        form = _task_form(task, data)
        data["fields"] = form_fields(schema_of(form)) if form is not None else []
        if not data.get("decisions"):  # a task that names none takes any decision; offer the usual two
            data["decisions"] = ["approve", "reject"]
        return data


class _Announcing:
    """The cloud client's driver, plus a change announcement after every state-changing client call.

    So the version the live stream and the tag cache go by also moves when a script or test uses
    ``session.client`` directly instead of the console's routes.
    """

    def __init__(self, inner: Driver, changes: Changes) -> None:
        self.inner = inner
        self.changes = changes

    def settle(self) -> None:
        """Run the cloud until idle, then announce."""
        self.inner.settle()
        self.changes.bump()

    def wait(self, client: Client, execution_id: str, timeout: float | None) -> None:
        """Run the cloud (through virtual time) until the execution ends, then announce."""
        try:
            self.inner.wait(client, execution_id, timeout)
        finally:
            self.changes.bump()


def _task_form(task: object, data: Mapping[str, object]) -> object:
    """The task's form: a pydantic class on the task object, or the JSON schema it stored."""
    for key in ("form_schema", "schema", "form"):
        value = getattr(task, key, None) if not isinstance(task, Mapping) else task.get(key)
        if value is None:
            value = data.get(key)
        if value is not None and (isinstance(value, Mapping) or hasattr(value, "model_json_schema")):
            return value
    return None


def _validate_input(input_type: object, payload: object, what: str) -> None:
    """Validate the start form's input with the workflow's type hint, as the orchestrator will."""
    if input_type is Any:
        return
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(input_type).validate_python(payload)
    except ValidationError as exc:
        raise ConsoleError(400, f"{what} is invalid: {one_line(exc)}") from None
    except Exception:  # a hint pydantic cannot use: the orchestrator decides at run time
        return
