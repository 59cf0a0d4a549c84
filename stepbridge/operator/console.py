"""What the operator subcommands of ``stepbridge`` do; ``stepbridge/cli.py`` only parses arguments.

Every command works through a :class:`~stepbridge.client.Client`: against a deployed stack it is
``Client.for_stack(--stack, region=--region)`` (the stack's CloudFormation outputs name its table,
queue and bus); locally it is the client of an in-process LocalCloud, which exists only while
``stepbridge run`` / ``stepbridge events send`` runs - so ``executions list/show/cancel/redrive``
and ``report`` need ``--stack``, and ``run`` can show, draw and report its execution itself.

Errors the operator can fix (bad JSON, unknown execution, missing stack or credentials) are
raised as ``StepbridgeError`` subclasses; the CLI prints them as one line and exits 2.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepbridge.errors import StepbridgeError
from stepbridge.operator.report import mermaid_path, render_html, render_text, timeline_json
from stepbridge.polling import poll_until
from stepbridge.runtime.records import iso, parse_iso
from stepbridge.runtime.vocabulary import Status, is_terminal
from stepbridge.timeline import build_timeline, format_duration, format_entry, history_start, render_table

if TYPE_CHECKING:
    from stepbridge.client import Client, ExecutionDescription
    from stepbridge.operator.local import LocalSession

Out = Callable[[str], None]

#: ``time.sleep`` between polls of a deployed execution (a module attribute so tests can drive it).
sleep: Callable[[float], None] = time.sleep


class OperatorError(StepbridgeError):
    """A command cannot do what was asked: bad input, a local-only situation, a missing option."""


# ---- option parsing ------------------------------------------------------------------------------------


def parse_json_option(text: str | None, option: str, *, default: Any = None) -> Any:
    """``--input`` / ``--detail``: JSON text, or ``@path/to/file.json``; a clear error if it is not JSON."""
    if text is None:
        return default
    source = text
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OperatorError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        shown = source if len(source) <= 60 else source[:57] + "..."
        raise OperatorError(
            f"{option} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {shown!r}; "
            """quote it for the shell, e.g. --input '{"id": "o-1"}', or pass @file.json"""
        ) from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, option: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``48h``, ``7d``, ``2w``."""
    match = _DURATION.match(text)
    if not match:
        raise OperatorError(f"{option}: {text!r} is not a duration; use e.g. 90s, 15m, 48h or 7d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_event_option(text: str) -> tuple[str, Any, timedelta]:
    """``--event TYPE=JSON`` or ``--event TYPE+DELAY=JSON`` (``TYPE`` alone sends ``{}``).

    With ``+DELAY`` (``20h``, ``3d``) the event is sent that much virtual time after the previous
    one (or the start) instead of as soon as the execution waits.
    """
    head, sep, detail = text.partition("=")
    event_type, plus, delay_text = head.partition("+")
    event_type = event_type.strip()
    if not event_type:
        raise OperatorError(f"--event {text!r}: use TYPE=JSON, e.g. --event 'Approval.decided={{\"ok\": true}}'")
    delay = parse_duration(delay_text, f"--event {event_type}") if plus else timedelta(0)
    return event_type, parse_json_option(detail, f"--event {event_type}", default={}) if sep else {}, delay


def require_stack(stack: str | None, command: str) -> str:
    """The ``--stack`` of a command that has no local meaning."""
    if not stack:
        raise OperatorError(
            f"`stepbridge {command}` needs --stack NAME (and --region if not configured): local executions live "
            "only inside the process that ran them (`stepbridge run ... --show/--mermaid/--report FILE`, or "
            "stepbridge.operator.render_html/mermaid_path on a LocalCloud client in tests)"
        )
    return stack


def connect(stack: str, region: str | None) -> Client:
    """A client for the deployed stack, or an ``AwsAccessError`` that says what is wrong."""
    from stepbridge.client import Client
    from stepbridge.infra.awserrors import AwsAccessError, aws_errors

    with aws_errors(stack=stack):
        try:
            return Client.for_stack(stack, region=region)
        except RuntimeError as exc:  # stack_outputs / config_from_outputs: missing stack or outputs
            raise AwsAccessError(str(exc)) from None


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, sort_keys=True)


def _short(value: Any, width: int = 100) -> str:
    text = json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."


def _now_iso(client: Client) -> str:
    return iso(client.effects.now())


# ---- executions list / show / cancel / report / redrive ---------------------------------------------------


def executions_list(
    client: Client,
    out: Out,
    *,
    workflow: str | None,
    status: str | None,
    limit: int,
    as_json: bool,
    internal: bool = False,
) -> int:
    """A table (or JSON) of executions, newest first (state-machine executions only with ``internal``)."""
    try:
        found = client.list(workflow=workflow, status=status, limit=limit, include_internal=internal)
    except ValueError as exc:
        raise OperatorError(str(exc)) from None
    if as_json:
        out(_dumps([d.to_dict() for d in found]))
        return 0
    if not found:
        what = " ".join(x for x in (status, workflow and f"'{workflow}'") if x)
        out(f"no {what + ' ' if what else ''}executions")
        return 0
    width = max(len(d.execution_id) for d in found)
    wf_width = max(len(d.workflow) for d in found)
    out(f"{'EXECUTION':<{width}}  {'WORKFLOW':<{wf_width}}  {'STATUS':<9}  {'CREATED':<19}  {'DURATION':>8}  PROGRESS")
    now = client.effects.now()
    for d in found:
        start = d.started_at or d.created_at
        end = d.ended_at or (iso(now) if not is_terminal(d.status) and start else None)
        seconds = (parse_iso(end) - parse_iso(start)).total_seconds() if start and end else None
        progress = d.progress or {}
        shown = f"{progress.get('step')}/{progress.get('total')} {progress.get('message') or ''}".rstrip()
        out(
            f"{d.execution_id:<{width}}  {d.workflow:<{wf_width}}  {d.status:<9}  {d.created_at[:19]:<19}  "
            f"{format_duration(seconds):>8}  {shown if progress else ''}".rstrip()
        )
    return 0


def _load(client: Client, execution_id: str) -> tuple[ExecutionDescription, list[Any]]:
    description = client.describe(execution_id)  # ExecutionNotFound: "no execution 'x'"
    return description, list(client.history(execution_id))


def executions_show(client: Client, execution_id: str, out: Out, *, as_json: bool, mermaid: bool) -> int:
    """The timeline of one execution (text), its JSON document, or its Mermaid path."""
    description, history = _load(client, execution_id)
    now = _now_iso(client)
    if as_json:
        out(_dumps(timeline_json(description, history, now=now)))
    elif mermaid:
        out(mermaid_path(history, description))
    else:
        out(render_text(description, history, now=now))
    return 0


def executions_cancel(client: Client, execution_id: str, out: Out, *, compensate: bool) -> int:
    """Ask an execution to stop (and run its saga's compensations with ``compensate``)."""
    before = client.describe(execution_id)
    if is_terminal(before.status):
        out(f"{execution_id} already ended {before.status}; nothing to cancel")
        return 0
    after = client.cancel(execution_id, compensate=compensate)
    how = " with compensation" if compensate else ""
    if is_terminal(after.status):
        out(f"{execution_id} cancelled{how}: {after.status}")
    else:
        out(f"cancel requested{how} for {execution_id} (now {after.status}); the orchestrator finishes it as CANCELLED")
    return 0


def write_report(client: Client, execution_id: str, output: str, out: Out) -> int:
    """Write the HTML report of one execution."""
    description, history = _load(client, execution_id)
    path = Path(output)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(description, history, now=_now_iso(client)), encoding="utf-8")
    rows = build_timeline(history, description).rows
    out(f"wrote {path}: {description.workflow} [{execution_id}] {description.status}, {len(rows)} operations")
    return 0


def redrive(stack: str, region: str | None, out: Out, *, dry_run: bool) -> int:
    """Move the stack's dead-lettered work messages back to the work queue."""
    from stepbridge.infra.awserrors import AwsAccessError, aws_errors
    from stepbridge.infra.queues import redrive_stack

    with aws_errors(stack=stack):
        try:
            result = redrive_stack(stack, region=region, dry_run=dry_run)
        except RuntimeError as exc:
            raise AwsAccessError(str(exc)) from None
    if dry_run:
        out(f"{result.waiting} message(s) in the dead-letter queue {result.dlq_url} (dry run: nothing moved)")
        if result.router_dlq_url:
            out(f"{result.router_waiting} failed router event(s) in {result.router_dlq_url} (dry run: nothing moved)")
    else:
        out(f"moved {result.moved} message(s) from {result.dlq_url} back to {result.queue_url}")
        if result.router_dlq_url:
            out(f"moved {result.router_moved} failed router event(s) from {result.router_dlq_url} "
                f"back to {result.router_queue_url}")
    return 0


# ---- following an execution as it runs ----------------------------------------------------------------


@dataclass
class Follower:
    """Prints the journal facts of one execution that were not printed yet (as they appear)."""

    client: Client
    execution_id: str
    out: Out
    seen: set[str] = field(default_factory=set)
    header: bool = False

    def poll(self) -> ExecutionDescription:
        """Print what is new; return the current description."""
        description = self.client.describe(self.execution_id)
        history = self.client.history(self.execution_id)
        if not self.header:
            self.out(f"{description.workflow}  [{self.execution_id}]")
            self.header = True
        start = history_start(history)
        for entry in history:
            if entry.detail_type in ("Clock.read", "Patch.patch"):
                continue
            key = json.dumps([entry.detail_type, entry.time, entry.sent, entry.detail], sort_keys=True, default=str)
            if key not in self.seen:
                self.seen.add(key)
                self.out(f"  {format_entry(entry, start)}")
        return description


def _finish(
    client: Client,
    execution_id: str,
    out: Out,
    *,
    as_json: bool,
    show: bool,
    mermaid: bool,
    report: str | None,
    note: str = "",
) -> int:
    """After a run: the outcome line, and whatever views were asked for."""
    description, history = _load(client, execution_id)
    now = _now_iso(client)
    if report:
        path = Path(report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(description, history, now=now), encoding="utf-8")
    if as_json:
        document = timeline_json(description, history, now=now)
        if report:
            document["report"] = str(report)
        out(_dumps(document))
    else:
        if show:
            out("")
            out(render_table(build_timeline(history, description, now=now)))
        if mermaid:
            out("")
            out(mermaid_path(history, description))
        out("")
        out(_outcome_line(description, note))
        if report:
            out(f"wrote {report}")
    return 0 if description.status == Status.SUCCEEDED else 1


def _outcome_line(description: ExecutionDescription, note: str) -> str:
    seconds = None
    if description.started_at and description.ended_at:
        seconds = (parse_iso(description.ended_at) - parse_iso(description.started_at)).total_seconds()
    took = f" in {format_duration(seconds)}" if seconds is not None else ""
    if description.status == Status.SUCCEEDED:
        return f"{description.status}{took}: {_short(description.result, 400)}"
    if is_terminal(description.status):
        error = description.error or {}
        kind = str(error.get("type", "")).rsplit(".", 1)[-1]
        return f"{description.status}{took}: {kind + ': ' if kind else ''}{error.get('message', '')}"
    return f"{description.status}: {note}" if note else description.status


def _waiting_note(client: Client, execution_id: str, how: str) -> str:
    timeline = build_timeline(client.history(execution_id), client.describe(execution_id))
    waits = [r for r in timeline.rows if r.end is None and r.kind == "wait"]
    if how == "blocked" and waits:
        types = ", ".join(sorted({r.target or r.name for r in waits}))
        return (
            f"waiting for {types} with no timeout; send it with --event TYPE=JSON "
            "(or `stepbridge events send` against a stack)"
        )
    if how == "blocked":
        return "nothing scheduled can move it on"
    return "the next timer is beyond --max-time; raise it to let more virtual time pass"


# ---- run ---------------------------------------------------------------------------------------------


@dataclass
class RunOptions:
    """What ``stepbridge run`` was asked for."""

    workflow: str
    payload: Any
    execution_id: str | None = None
    events: list[tuple[str, Any, timedelta]] = field(default_factory=list)
    max_time: timedelta = timedelta(days=400)
    show: bool = False
    mermaid: bool = False
    report: str | None = None
    as_json: bool = False


def run_local(session: LocalSession, options: RunOptions, out: Out, progress: Out) -> int:
    """Start the workflow in a LocalCloud and run it through virtual time, printing as it goes."""
    session.app.get_workflow(options.workflow)  # UnknownWorkflowError names the known ones
    client = session.client()
    progress(
        f"stepbridge run: '{options.workflow}' of app '{session.app.name}' on LocalCloud ({session.backend}), "
        f"virtual clock at {session.now():%Y-%m-%d %H:%M} UTC"
    )
    handle = client.start(options.workflow, options.payload, execution_id=options.execution_id)
    follower = Follower(client, handle.execution_id, progress)
    queued = list(options.events)
    started_at = session.now()

    def done() -> bool:
        return is_terminal(client.describe(handle.execution_id).status)

    last_sent = [session.now()]

    def send_next() -> bool:
        if not queued:
            return False
        event_type, detail, delay = queued[0]
        if delay:
            due = last_sent[0] + delay
            timer = session.cloud.timers.peek(one_time_only=True)
            if timer is not None and timer.at < due:
                return False  # let that timer fire first
            if due > session.now():
                advancing(due, "--event")
                session.cloud.advance_to(due)
        queued.pop(0)
        event_id = client.send_event(event_type, detail)
        last_sent[0] = session.now()
        progress(f"  ... sent {event_type} {_short(detail, 60)} (event {event_id[:8]})")
        return True

    def advancing(at: datetime, why: str = "timer") -> None:
        jump = (at - session.now()).total_seconds()
        progress(f"  ... virtual clock +{format_duration(jump)} to {at:%Y-%m-%d %H:%M:%S} UTC ({why})")

    def report_progress() -> None:
        follower.poll()

    how = session.drive(
        done, limit=options.max_time, on_idle=report_progress, before_advance=send_next, on_advance=advancing
    )
    for failure in session.failed_deliveries():
        progress(f"  warning: a {failure['target']} delivery failed: {failure['error']}")
    note = "" if how == "done" else _waiting_note(client, handle.execution_id, how)
    if queued:
        progress(f"  warning: {len(queued)} --event(s) were not sent (the execution ended first)")
    elapsed = session.now() - started_at
    progress(f"  ({format_duration(elapsed.total_seconds())} of virtual time)")
    return _finish(
        client,
        handle.execution_id,
        out,
        as_json=options.as_json,
        show=options.show,
        mermaid=options.mermaid,
        report=options.report,
        note=note,
    )


def run_stack(
    client: Client, stack: str, options: RunOptions, out: Out, progress: Out, *, timeout: float, poll: float
) -> int:
    """Start the workflow in the deployed stack and poll ``describe``/``history`` until it ends."""
    from stepbridge.infra.awserrors import aws_errors

    with aws_errors(stack=stack):
        handle = client.start(options.workflow, options.payload, execution_id=options.execution_id)
        progress(f"stepbridge run: started '{options.workflow}' as {handle.execution_id} in stack '{stack}'")
        for event_type, detail, after in options.events:
            if after:
                raise OperatorError("--event TYPE+DELAY is for local runs (virtual time); send it later yourself")
            client.send_event(event_type, detail)
            progress(f"  ... sent {event_type} {_short(detail, 60)}")
        follower = Follower(client, handle.execution_id, progress)
        description, finished = poll_until(
            follower.poll,
            lambda d: is_terminal(d.status),
            timeout=timeout,
            first_delay=min(poll, 0.5),
            max_delay=poll,
            sleep=lambda seconds: sleep(seconds),  # the module attribute, looked up at call time
        )
        note = ""
        if not finished:
            note = (
                f"still {description.status} after {format_duration(timeout)}; follow it with "
                f"`stepbridge executions show {handle.execution_id} --stack {stack}`"
            )
        return _finish(
            client,
            handle.execution_id,
            out,
            as_json=options.as_json,
            show=options.show,
            mermaid=options.mermaid,
            report=options.report,
            note=note,
        )


# ---- events send -------------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    status: str
    facts: int


def _snapshot(client: Client) -> dict[str, _Snapshot]:
    return {
        d.execution_id: _Snapshot(d.status, len(client.history(d.execution_id))) for d in client.list(limit=1000)
    }


def _machine_keys(session: LocalSession, event_type: str, detail: Any) -> list[tuple[str, str]]:
    import jmespath

    envelope = {"detail-type": event_type, "detail": detail, "source": "stepbridge.cli"}
    keys = []
    for name, binding in session.app.machines.items():
        if event_type in binding.events:
            key = jmespath.search(binding.key, envelope) if binding.key else None
            if key is not None:
                keys.append((name, str(key)))
    return keys


def send_local(
    session: LocalSession,
    event_type: str,
    detail: Any,
    out: Out,
    *,
    start: RunOptions | None,
    max_time: timedelta,
    show: bool,
    as_json: bool,
) -> int:
    """Send one event in a LocalCloud and report what it started and woke, and how those ended."""
    client = session.client()
    if start is not None:
        handle = client.start(start.workflow, start.payload, execution_id=start.execution_id)
        session.drive(lambda: True, limit=max_time)
        first = client.describe(handle.execution_id)
        if not as_json:
            out(f"started {start.workflow} [{handle.execution_id}] first: {first.status}")
    before = _snapshot(client)
    machines = _machine_keys(session, event_type, detail)
    machine_before = {m: client.machine_state(*m) for m in machines}
    bus_before = len(session.cloud.events)
    event_id = client.send_event(event_type, detail)

    def affected() -> tuple[list[str], list[str]]:
        started, woken = [], []
        for d in client.list(limit=1000):
            old = before.get(d.execution_id)
            if old is None:
                if d.parent_id is None:
                    started.append(d.execution_id)
            elif old.status != d.status or old.facts != len(client.history(d.execution_id)):
                woken.append(d.execution_id)
        return started, woken

    # What the event did at once (no virtual time passed) ...
    started, woken = affected()
    debounced = any(t.debounce and event_type in t.event_types for t in session.app.triggers)
    if not started and not woken and debounced:
        # ... or, for a debounced trigger, once its window closed.
        session.drive(lambda: bool(affected()[0]), limit=max_time)
        started = affected()[0]
    tracked = started + woken
    how = session.drive(lambda: all(is_terminal(client.describe(i).status) for i in tracked), limit=max_time)
    bus = list(session.cloud.events[bus_before:])
    report: dict[str, Any] = {
        "event": {"type": event_type, "id": event_id, "detail": detail},
        "started": [],
        "woken": [],
        "machines": [],
        "emitted": [{"type": e.detail_type, "detail": e.detail} for e in bus[1:]],
        "stopped": how,
    }
    lines = [f"sent {event_type} (event {event_id}) on LocalCloud ({session.backend}), app '{session.app.name}'"]
    for label, ids in (("started", started), ("woken", woken)):
        for execution_id in ids:
            description = client.describe(execution_id)
            note = "" if is_terminal(description.status) else _waiting_note(client, execution_id, how)
            report[label].append(
                {
                    "execution_id": execution_id,
                    "workflow": description.workflow,
                    "status": description.status,
                    "result": description.result,
                    "error": description.error,
                }
            )
            verb = "started" if label == "started" else "woke"
            lines.append(f"{verb} {description.workflow} [{execution_id}] -> {_outcome_line(description, note)}")
            if show:
                lines.append(render_table(build_timeline(client.history(execution_id), description)))
    for machine, key in machines:
        old, new = machine_before[(machine, key)], client.machine_state(machine, key)
        report["machines"].append({"machine": machine, "key": key, "before": old, "after": new})
        was = old["state"] if old else "(new)"
        lines.append(f"state machine {machine} [{key}]: {was} -> {new['state'] if new else '(none)'}")
    if not started and not woken and not machines:
        lines.append("nothing was started or woken by it (no trigger, waiting execution or state machine matched)")
    if bus[1:]:
        lines.append("events emitted: " + ", ".join(e.detail_type for e in bus[1:]))
    for failure in session.failed_deliveries():
        lines.append(f"warning: a {failure['target']} delivery failed: {failure['error']}")
    if as_json:
        out(_dumps(report))
    else:
        for line in lines:
            out(line)
    failed = any(client.describe(i).status in (Status.FAILED, Status.CANCELLED) for i in tracked)
    return 1 if failed else 0


def send_stack(client: Client, stack: str, event_type: str, detail: Any, out: Out, *, as_json: bool) -> int:
    """Put the event on the deployed stack's bus."""
    from stepbridge.infra.awserrors import aws_errors

    with aws_errors(stack=stack):
        event_id = client.send_event(event_type, detail)
    if as_json:
        out(_dumps({"event": {"type": event_type, "id": event_id, "detail": detail}, "stack": stack}))
    else:
        out(
            f"sent {event_type} (event {event_id}) to the bus of stack '{stack}'; triggers, waiting executions and "
            f"state machines react asynchronously: `stepbridge executions list --stack {stack}`"
        )
    return 0

