"""Human tasks: the task item, the inbox index, who may act, and every action with its audit entry.

Storage (docs/ARCHITECTURE.md): the task is one item ``TASK#{id}`` / ``META`` (body = :class:`TaskRecord`,
optimistic ``version``); each person ever assigned has an assignment item ``TASK#{id}`` / ``A#{name}``
that carries the ``by-assignee`` index keys (``ASSIGNEE#{name}``, ``{status}#{created_at}#{id}``) while
that person may act on the task, and none once they may not. The inbox is one Query of that index,
never a scan. Every action reads the task, decides, and writes it back only if the version is still
the one it read (``put_item(if_version=)``: two racing claims cannot both win); the assignment items
are rewritten after the task item, so the inbox can lag the task by one action if a writer dies in
between - the task item is what every check reads.

Who may act (docs/API.md, "Human tasks"): an identity is an IAM principal ARN, ``jwt:<sub>``, or (from
the client, which runs with operator credentials) a plain name. It matches an assignee equal to the
whole identity or to its *name*: the JWT subject, an IAM user's name, or an assumed role's session name.
Only current assignees (plus the escalation targets once escalated) may claim, complete, release or
reassign; a task claimed by someone is theirs until they release it.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepbridge.errors import TaskConflict, TaskForbidden, TaskInvalid, TaskNotFound
from stepbridge.runtime import keys
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import Event, iso

if TYPE_CHECKING:
    from pydantic import BaseModel

#: ``source`` of every ``Task.*`` event; ``POST /events`` callers can never use it (runtime/provenance.py).
TASK_SOURCE = "stepbridge.tasks"
TASK_META = keys.META
OPEN, CLAIMED, COMPLETED, CANCELLED = "open", "claimed", "completed", "cancelled"
STATUSES = (OPEN, CLAIMED, COMPLETED, CANCELLED)
ACTIVE = (OPEN, CLAIMED)
#: ``status`` filter of the inbox meaning open or claimed (what a person still has to do).
ACTIVE_FILTER = "active"
SYSTEM = "system"
#: Task ids are ``tk-`` + 32 hex digits (a replay-safe UUID4): unguessable, and a path segment.
TASK_ID_RE = re.compile(r"^tk-[0-9a-f]{32}$")
MAX_ASSIGNEES = 25
MAX_NAME_BYTES = 256
MAX_DECISION_CHARS = 64
MAX_COMMENT_BYTES = 4096
#: Completion data: it rides in the ``Task.completed`` event (EventBridge's 256 KB entry, docs/LIMITS.md) and
#: in the task item (DynamoDB's 400 KB), beside the task's own data and audit trail.
MAX_DATA_BYTES = 64 * 1024
#: Tries of a read-decide-write cycle that lost its conditional write to a racing writer.
_WRITE_TRIES = 8
#: Forms by import path, registered when a workflow calls ``ctx.task`` in this process (LocalCloud, tests);
#: a deployed API imports the form's module instead (a form must be a module-level class for that).
_FORMS: dict[str, type[BaseModel]] = {}

_IAM_USER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:user/(?:.*/)?([^/]+)$")
_ASSUMED_ROLE = re.compile(r"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/[^/]+/([^/]+)$")


def identity_names(identity: str) -> set[str]:
    """The assignee names an identity answers to: itself, plus the JWT subject, IAM user name or role session."""
    names = {identity}
    if identity.startswith("jwt:") and len(identity) > 4:
        names.add(identity[4:])
    for rx in (_IAM_USER, _ASSUMED_ROLE):
        match = rx.match(identity)
        if match:
            names.add(match[1])
    return names


def inbox_name(identity: str) -> str:
    """The assignee name an identity's own inbox is listed under (the mapped name, else the identity)."""
    names = identity_names(identity) - {identity}
    return next(iter(sorted(names))) if names else identity


@dataclass
class TaskRecord:
    """One human task (the ``TASK#{id}`` item); ``audit`` lists every action with who and when."""

    task_id: str
    execution_id: str
    workflow: str
    name: str
    title: str
    assignees: list[str]
    created_at: str
    data: object = None
    escalate_to: list[str] = field(default_factory=list)
    keep_assignees: bool = True
    decisions: list[str] | None = None
    form: str | None = None
    form_schema: dict[str, object] | None = None
    status: str = OPEN
    claimed_by: str | None = None
    escalated: bool = False
    due_at: str | None = None
    escalate_at: str | None = None
    remind_at: str | None = None
    calendar: dict[str, object] | None = None
    outcome: dict[str, object] | None = None
    audit: list[dict[str, object]] = field(default_factory=list)
    #: Everyone ever assigned (their assignment items exist; who may still read the task).
    ever_assigned: list[str] = field(default_factory=list)
    #: When the task's items expire (``App(retention=)``: retention + 365 days after creation, as the
    #: execution's other items' backstop, runtime/retention.py); ``None`` = kept.
    expires_at: str | None = None
    version: int = 0

    def current_assignees(self) -> list[str]:
        """Who may act now: the assignees, plus the escalation targets once escalated (or only those,
        when ``keep_assignees`` is off)."""
        if not self.escalated:
            return list(self.assignees)
        base = list(self.assignees) if self.keep_assignees else []
        return base + [a for a in self.escalate_to if a not in base]

    def may_act(self, identity: str) -> bool:
        """``identity`` is a current assignee (by the matching rule in the module docstring)."""
        return bool(identity_names(identity) & set(self.current_assignees()))

    def actor(self, identity: str) -> str:
        """The assignee name ``identity`` acts as (the first current assignee it matches), else itself."""
        names = identity_names(identity)
        return next((a for a in self.current_assignees() if a in names), identity)

    def may_view(self, identity: str) -> bool:
        """``identity`` is or was assigned (past assignees keep read access to the audit trail)."""
        return bool(identity_names(identity) & set(self.ever_assigned))

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (the stored body, and what ``GET /tasks/{id}`` returns)."""
        data = asdict(self)
        data["current_assignees"] = self.current_assignees()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRecord:
        """Inverse of :meth:`to_dict`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def __getitem__(self, key: str) -> object:
        return self.to_dict()[key]


def check_task_id(task_id: str) -> None:
    """Refuse an id that is not a task id (404: a forged or mangled id names no task)."""
    if not isinstance(task_id, str) or not TASK_ID_RE.match(task_id):
        raise TaskNotFound(f"no task {str(task_id)[:80]!r}; task ids look like 'tk-' + 32 hex digits")


def check_name(value: object, what: str) -> str:
    """An assignee or identity: a non-empty string of at most 256 bytes without control characters."""
    if not isinstance(value, str) or not value.strip() or len(value.encode()) > MAX_NAME_BYTES:
        raise TaskInvalid(f"{what} must be a non-empty string of at most {MAX_NAME_BYTES} bytes, got {value!r}")
    if any(ord(c) < 32 for c in value):
        raise TaskInvalid(f"{what} {value!r} contains control characters")
    return value


def check_assignees(values: object, what: str) -> list[str]:
    """A non-empty list of distinct assignee names (at most 25)."""
    if isinstance(values, str) or not isinstance(values, list | tuple) or not values:
        raise TaskInvalid(f"{what} must be a non-empty list of names, e.g. ['maria@acme.example'], got {values!r}")
    if len(values) > MAX_ASSIGNEES:
        raise TaskInvalid(f"{what} has {len(values)} names; at most {MAX_ASSIGNEES}")
    out: list[str] = []
    for v in values:
        name = check_name(v, f"{what} entry")
        if name not in out:
            out.append(name)
    return out


# ---- forms -----------------------------------------------------------------------------------------


def form_path(form: type[BaseModel]) -> str:
    """``module:qualname`` of a pydantic model class; registers it for this process."""
    path = f"{form.__module__}:{form.__qualname__}"
    _FORMS[path] = form
    return path


def resolve_form(path: str) -> type[BaseModel]:
    """The form class of ``path``: registered in this process, else imported (module-level classes)."""
    form = _FORMS.get(path)
    if form is not None:
        return form
    module, _, qualname = path.partition(":")
    try:
        obj: object = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise TaskInvalid(
            f"the task's form {path!r} cannot be loaded here ({exc}); define forms at module level"
        ) from None
    import pydantic

    if not (isinstance(obj, type) and issubclass(obj, pydantic.BaseModel)):
        raise TaskInvalid(f"the task's form {path!r} is not a pydantic model class")
    _FORMS[path] = obj
    return obj


def validate_form_data(task: TaskRecord, data: object) -> object:
    """``data`` checked by the task's form (JSON form of the model), or as given when it has none."""
    if task.form is None:
        return data
    import pydantic

    form = resolve_form(task.form)
    try:
        return form.model_validate(data if data is not None else {}).model_dump(mode="json")
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in exc.errors())
        raise TaskInvalid(f"task '{task.task_id}': data does not fit the form {task.form}: {problems}") from None


# ---- storage -----------------------------------------------------------------------------------------


def _key(task_id: str) -> str:
    return keys.task_pk(task_id)


def get_task(store: Store, task_id: str) -> TaskRecord:
    """The task, or ``TaskNotFound``."""
    check_task_id(task_id)
    item = store.get_item(_key(task_id), TASK_META)
    if item is None:
        raise TaskNotFound(f"no task '{task_id}'")
    task = TaskRecord.from_dict(item.body)
    task.version = item.version
    return task


def list_tasks(store: Store, assignee: str, status: str | None = None, limit: int = 100) -> list[dict[str, object]]:
    """The inbox of ``assignee`` (tasks they may act on, oldest first): one Query of the ``by-assignee`` index
    per status (``"active"`` = open and claimed: two Queries), never a scan."""
    check_name(assignee, "assignee")
    if status is not None and status not in (*STATUSES, ACTIVE_FILTER):
        raise TaskInvalid(f"unknown task status {status!r}; use one of {[*STATUSES, ACTIVE_FILTER]} or None (all)")
    key = keys.inbox_pk(assignee)
    if status == ACTIVE_FILTER:
        found = [i.body for s in ACTIVE for i in store.query_index(key, sk_prefix=f"{s}#", limit=limit)]
        return sorted(found, key=lambda t: (str(t.get("created_at")), str(t.get("task_id"))))[:limit]
    items = store.query_index(key, sk_prefix=f"{status}#" if status else "", limit=limit)
    return [i.body for i in items]


def _summary(task: TaskRecord, assignee: str) -> dict[str, object]:
    return {
        "task_id": task.task_id, "assignee": assignee, "status": task.status, "name": task.name,
        "title": task.title, "execution_id": task.execution_id, "workflow": task.workflow,
        "created_at": task.created_at, "due_at": task.due_at, "claimed_by": task.claimed_by,
        "escalated": task.escalated,
    }


def _sync_assignments(store: Store, task: TaskRecord) -> None:
    """Rewrite every assignment item: indexed (in the inbox) while that person may act, else not."""
    current = set(task.current_assignees()) if task.status in ACTIVE else set()
    for name in task.ever_assigned:
        may = name in current or (task.status not in ACTIVE and name in task.current_assignees())
        index = (keys.inbox_pk(name), keys.inbox_sk(task.status, task.created_at, task.task_id)) if may else None
        store.put_item(Item(_key(task.task_id), keys.assignment_sk(name), _summary(task, name), index=index,
                            expires_at=task.expires_at))


def _publish(effects: Effects, kind: str, task: TaskRecord, at: str, **extra: object) -> None:
    detail = {
        "task_id": task.task_id, "execution_id": task.execution_id, "workflow": task.workflow, "name": task.name,
        "title": task.title, "status": task.status, "assignees": task.current_assignees(), **extra,
    }
    effects.publish([Event(detail_type=f"Task.{kind}", detail=detail, source=TASK_SOURCE, time=at)])


def _audit(task: TaskRecord, action: str, by: str, at: str, **extra: object) -> None:
    """One audit entry; ``by`` is the assignee name acted as, ``identity`` the authenticated caller when it differs."""
    who = task.actor(by) if by != SYSTEM else by
    entry = {"action": action, "by": who, "at": at, **extra}
    if who != by:
        entry["identity"] = by
    task.audit.append(entry)


def create_task(store: Store, effects: Effects, task: TaskRecord) -> TaskRecord:
    """Store a new task and announce it (``Task.created``); a retried create returns the stored task."""
    check_task_id(task.task_id)
    task.ever_assigned = list(dict.fromkeys([*task.assignees]))
    _audit(task, "created", SYSTEM, task.created_at, assignees=list(task.assignees))
    item = Item(_key(task.task_id), TASK_META, task.to_dict(), version=1, expires_at=task.expires_at)
    if not store.put_item(item, if_absent=True):  # a retried step: the first try's task stands
        return get_task(store, task.task_id)
    task.version = 1
    _sync_assignments(store, task)
    _publish(effects, "created", task, task.created_at, due_at=task.due_at)
    return task


def _mutate(store: Store, task_id: str, change: Callable[[TaskRecord], bool]) -> tuple[TaskRecord, bool]:
    """Read, ``change(task)`` (raises to refuse; returns False for "nothing to do"), write at the read version.

    Returns the task and whether this call changed it."""
    for _ in range(_WRITE_TRIES):
        task = get_task(store, task_id)
        if change(task) is False:
            return task, False
        body = task.to_dict()
        item = Item(_key(task_id), TASK_META, body, version=task.version, expires_at=task.expires_at)
        if store.put_item(item, if_version=task.version):
            task.version += 1
            _sync_assignments(store, task)
            return task, True
    raise TaskConflict(f"task '{task_id}' changed {_WRITE_TRIES} times while this action was decided; try again")


def _require_active(task: TaskRecord) -> None:
    if task.status == COMPLETED:
        by = (task.outcome or {}).get("by")
        raise TaskConflict(f"task '{task.task_id}' was already completed by {by}")
    if task.status == CANCELLED:
        raise TaskConflict(f"task '{task.task_id}' was cancelled")


def _require_assignee(task: TaskRecord, by: str) -> None:
    if not task.may_act(by):
        raise TaskForbidden(f"{by} is not an assignee of task '{task.task_id}'")


def _mutate_as_assignee(
    store: Store, task_id: str, by: str, change: Callable[[TaskRecord], bool]
) -> tuple[TaskRecord, bool]:
    """``_mutate`` for an assignee acting on an active task: 403 or 409 before ``change`` runs."""

    def guarded(task: TaskRecord) -> bool:
        _require_assignee(task, by)
        _require_active(task)
        return change(task)

    return _mutate(store, task_id, guarded)


def claim_task(store: Store, effects: Effects, task_id: str, by: str) -> TaskRecord:
    """Take the task (only an assignee; 409 when someone else holds it); claiming it again is a no-op."""
    check_name(by, "by")
    now = iso(effects.now())

    def change(task: TaskRecord) -> bool:
        if task.status == CLAIMED:
            if task.claimed_by == task.actor(by):
                return False
            raise TaskConflict(f"task '{task_id}' is claimed by {task.claimed_by}")
        _audit(task, "claimed", by, now)
        task.status, task.claimed_by = CLAIMED, task.actor(by)
        return True

    task, changed = _mutate_as_assignee(store, task_id, by, change)
    if changed:
        _publish(effects, "claimed", task, now, by=task.claimed_by)
    return task


def release_task(store: Store, effects: Effects, task_id: str, by: str) -> TaskRecord:
    """Give a claimed task back to all its assignees (only its claimer)."""
    check_name(by, "by")
    now = iso(effects.now())

    def change(task: TaskRecord) -> bool:
        if task.status != CLAIMED or task.claimed_by != task.actor(by):
            raise TaskConflict(f"task '{task_id}' is not claimed by {task.actor(by)}")
        _audit(task, "released", by, now)
        task.status, task.claimed_by = OPEN, None
        return True

    task, _ = _mutate_as_assignee(store, task_id, by, change)
    _publish(effects, "released", task, now, by=task.audit[-1]["by"])
    return task


def reassign_task(store: Store, effects: Effects, task_id: str, by: str, to: object) -> TaskRecord:
    """Replace the assignees (only a current assignee; unclaims the task). Escalation targets stay."""
    check_name(by, "by")
    new = check_assignees(to, "to")
    now = iso(effects.now())

    def change(task: TaskRecord) -> bool:
        if task.status == CLAIMED and task.claimed_by != task.actor(by):
            raise TaskConflict(f"task '{task_id}' is claimed by {task.claimed_by}")
        old = list(task.assignees)
        _audit(task, "reassigned", by, now, old=old, new=new)
        task.assignees, task.status, task.claimed_by = new, OPEN, None
        task.ever_assigned = list(dict.fromkeys([*task.ever_assigned, *new]))
        return True

    task, _ = _mutate_as_assignee(store, task_id, by, change)
    _publish(effects, "reassigned", task, now, by=task.audit[-1]["by"])
    return task


def complete_task(
    store: Store, effects: Effects, task_id: str, by: str, decision: object, data: object = None, comment: object = ""
) -> TaskRecord:
    """Complete the task (an assignee; the claimer when claimed) and wake its workflow (``Task.completed``).

    A retry of the completion that stands - the same person, decision, data and comment, e.g. after the API
    died between writing the task and publishing - publishes the same ``Task.completed`` again (same detail
    and time: a duplicate, which EventBridge's at-least-once consumers already absorb) and returns the task
    instead of a 409, so the caller can always get the wake-up out (docs/RELIABILITY.md, "Human tasks")."""
    check_name(by, "by")
    if not isinstance(decision, str) or not decision or len(decision) > MAX_DECISION_CHARS:
        raise TaskInvalid(f"decision must be a non-empty string of at most {MAX_DECISION_CHARS} characters")
    if not isinstance(comment, str) or len(comment.encode()) > MAX_COMMENT_BYTES:
        raise TaskInvalid(f"comment must be a string of at most {MAX_COMMENT_BYTES} bytes")
    now = iso(effects.now())

    def change(task: TaskRecord) -> bool:
        _require_assignee(task, by)
        if _same_completion(task, by, decision, data, comment):
            return False
        _require_active(task)
        if task.status == CLAIMED and task.claimed_by != task.actor(by):
            raise TaskConflict(f"task '{task_id}' is claimed by {task.claimed_by}")
        if task.decisions is not None and decision not in task.decisions:
            raise TaskInvalid(f"task '{task_id}' offers the decisions {task.decisions}, not {decision!r}")
        checked = validate_form_data(task, data)
        size = len(json.dumps(checked, separators=(",", ":"), default=str).encode())
        if size > MAX_DATA_BYTES:
            raise TaskInvalid(f"task '{task_id}': data is {size:,} bytes, over the {MAX_DATA_BYTES:,}-byte limit "
                              "(it travels in the Task.completed event and is stored in the task item)")
        task.outcome = {"decision": decision, "data": checked, "by": task.actor(by), "comment": comment,
                        "escalated": task.escalated, "at": now}
        _audit(task, "completed", by, now, decision=decision)
        task.status = COMPLETED
        return True

    task, _ = _mutate(store, task_id, change)
    outcome = task.outcome or {}
    _publish(effects, "completed", task, str(outcome.get("at") or now), outcome=task.outcome)
    return task


def _same_completion(task: TaskRecord, by: str, decision: str, data: object, comment: str) -> bool:
    """``task`` is already completed by ``by`` with exactly this decision, data and comment (a retry)."""
    outcome = task.outcome
    if task.status != COMPLETED or outcome is None or outcome.get("by") != task.actor(by):
        return False
    if outcome.get("decision") != decision or outcome.get("comment") != comment:
        return False
    try:
        return bool(validate_form_data(task, data) == outcome.get("data"))
    except TaskInvalid:
        return False


# ---- actions of the workflow (system) ------------------------------------------------------------------


def remind_task(store: Store, effects: Effects, task_id: str, at: str, next_at: str | None) -> TaskRecord:
    """A reminder fired at ``at``: audit it, note the next one, emit ``Task.reminder`` (active tasks only)."""
    def change(task: TaskRecord) -> bool:
        if task.status not in ACTIVE:
            return False
        task.remind_at = next_at
        _audit(task, "reminded", SYSTEM, at, to=task.current_assignees())
        return True

    task, changed = _mutate(store, task_id, change)
    if changed:
        count = sum(1 for a in task.audit if a["action"] == "reminded")
        _publish(effects, "reminder", task, at, reminder=count, claimed_by=task.claimed_by, next_at=next_at)
    return task


def escalate_task(store: Store, effects: Effects, task_id: str, at: str) -> TaskRecord:
    """Escalate: the targets become assignees (the originals keep access unless ``keep_assignees`` is off)."""
    def change(task: TaskRecord) -> bool:
        if task.status not in ACTIVE or task.escalated:
            return False
        task.escalated, task.escalate_at = True, None
        task.ever_assigned = list(dict.fromkeys([*task.ever_assigned, *task.escalate_to]))
        if not task.keep_assignees and task.claimed_by not in task.escalate_to:
            task.status, task.claimed_by = OPEN, None  # the claimer lost access with the other originals
        _audit(task, "escalated", SYSTEM, at, to=list(task.escalate_to))
        return True

    task, changed = _mutate(store, task_id, change)
    if changed:
        _publish(effects, "escalated", task, at, escalated_to=list(task.escalate_to))
    return task


def breach_task(store: Store, effects: Effects, task_id: str, at: str) -> TaskRecord:
    """The task is past ``due``: audit and emit ``Task.sla_breached`` (the task stays open)."""
    def change(task: TaskRecord) -> bool:
        if task.status not in ACTIVE:
            return False
        _audit(task, "sla_breached", SYSTEM, at, due_at=task.due_at)
        return True

    task, changed = _mutate(store, task_id, change)
    if changed:
        _publish(effects, "sla_breached", task, at, due_at=task.due_at)
    return task


def cancel_task(store: Store, effects: Effects, task_id: str, at: datetime, reason: str) -> bool:
    """Cancel an active task (its execution ended); ``True`` when this call cancelled it."""
    when = iso(at)

    def change(task: TaskRecord) -> bool:
        if task.status not in ACTIVE:
            return False
        task.status, task.claimed_by = CANCELLED, None
        _audit(task, "cancelled", SYSTEM, when, reason=reason)
        return True

    try:
        task, changed = _mutate(store, task_id, change)
    except TaskNotFound:
        return False
    if changed:
        _publish(effects, "cancelled", task, when, reason=reason)
    return changed


__all__ = [
    "ACTIVE",
    "STATUSES",
    "TASK_SOURCE",
    "TaskRecord",
    "breach_task",
    "cancel_task",
    "check_task_id",
    "claim_task",
    "complete_task",
    "create_task",
    "escalate_task",
    "get_task",
    "identity_names",
    "inbox_name",
    "list_tasks",
    "reassign_task",
    "release_task",
    "remind_task",
]
