"""Durable waits: ``sleep`` / ``sleep_until`` timers and ``wait_for`` an event.

``wait_for`` first looks back at events received since the execution started (the router logs
every event on the bus), so an event that arrives before the wait is reached is not lost; then
it registers a waiter that the router matches against new events. Which event satisfied which
wait is recorded, so replays bind the same event, and each event satisfies one wait at most.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from stepbridge.api.app import check_event_type
from stepbridge.errors import WaitTimeout
from stepbridge.runtime import provenance
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import iso, parse_iso
from stepbridge.runtime.replay import Replay

#: Sentinel meaning "no default: raise WaitTimeout".
RAISE: Any = object()


async def sleep_until(rp: Replay, op: str, wake_at: datetime) -> None:
    """Suspend until ``wake_at`` (a durable timer); returns at once on replay after it passed."""
    records = rp.request(op, "sleep")
    rec = records.get(op)
    if rec is None:
        await rp.before_new(op)
        # (durable: its timer is set after the write; a write that took effect but reported a failure must
        # not abandon the invocation, leaving a sleep that no timer stands for until the sweeper sees it overdue)
        rec = rp.record(op, "sleep", "timer", {"wake_at": iso(wake_at), "timer": rp.timer_name(op)}, durable=True)
        if not rp.due(str(rec.data["wake_at"])):
            rp.set_timer(op, wake_at, f"sleep:{op}")
    if not rp.due(str(rec.data["wake_at"])):
        rp.suspend()
    rp.log.passed(op, parse_iso(str(rec.data["wake_at"])))


def matches(detail: Any, match: Mapping[str, Any] | None) -> bool:
    """Every key of ``match`` equals the same key of ``detail``; nested dicts match recursively."""
    if not match:
        return True
    if not isinstance(detail, Mapping):
        return False
    for key, expected in match.items():
        if key not in detail:
            return False
        actual = detail[key]
        if isinstance(expected, Mapping):
            if not matches(actual, expected):
                return False
        elif actual != expected:
            return False
    return True


def waiter_key(event_type: str) -> str:
    """Partition key of the waiters for an event type."""
    return f"WAIT#{event_type}"


def event_log_key(event_type: str) -> str:
    """Partition key of the event log for an event type."""
    return f"EVT#{event_type}"


async def wait_for(
    rp: Replay,
    op: str,
    event_type: str,
    match: Mapping[str, Any] | None,
    where: Callable[[Any], bool] | None,
    timeout: float | None,
    default: Any,
    sources: Sequence[str] | None = None,
    callers: Sequence[str] | None = None,
) -> Any:
    """The body of ``ctx.wait_for``; ``sources``/``callers`` restrict the producers (runtime/provenance.py)."""
    check_event_type(event_type, where=f"wait_for '{op}'")
    sources = provenance.check_filter(sources, f"wait_for '{op}': sources")
    callers = provenance.check_filter(callers, f"wait_for '{op}': callers")
    who = _restrictions(sources, callers)
    records = rp.request(op, "wait")
    final = records.get(op)
    if not records:
        await rp.before_new(op)
    if final is None:
        final = _try_complete(rp, op, event_type, match, where, timeout, records, who, default is not RAISE)
    if final is None:
        rp.suspend()
    if final.kind == "result":
        return final.data["event"].get("detail")
    if default is RAISE:
        raise WaitTimeout(
            f"wait '{op}' for event '{event_type}' timed out after {final.data.get('timeout', timeout)} s"
        )
    return default


def _try_complete(
    rp: Replay,
    op: str,
    event_type: str,
    match: Mapping[str, Any] | None,
    where: Callable[[Any], bool] | None,
    timeout: float | None,
    records: dict[str, Any],
    who: dict[str, list[str]],
    has_default: bool = False,
) -> Any:
    started = records.get(f"{op}#w")
    if started is None:
        deadline_at = rp.after(timeout) if timeout is not None else None
        deadline = iso(deadline_at) if deadline_at is not None else None
        # Register the waiter before looking back, so an event arriving in between is seen by one of
        # us; and before recording the wait, so a crash in between cannot leave a recorded wait that
        # the router does not know about (the put is an idempotent overwrite when the replay repeats it).
        rp.store.put_item(
            Item(
                waiter_key(event_type),
                f"{rp.execution_id}#{op}",
                {"execution_id": rp.execution_id, "op": op, "match": dict(match or {}), "deadline": deadline, **who},
                expires_at=deadline,
            )
        )
        started = rp.record(
            op,
            "wait",
            "wait",
            {
                "event_type": event_type,
                "match": dict(match or {}),
                "deadline": deadline,
                "timeout": timeout,
                "timer": rp.timer_name(f"{op}#w") if deadline else None,
                **who,
            },
            key=f"{op}#w",
            durable=True,  # (its timeout's timer is set after the write, as a sleep's)
        )
        if deadline_at is not None:
            rp.set_timer(f"{op}#w", deadline_at, f"wait-timeout:{op}")
    since = rp.execution.started_at or rp.execution.created_at
    consumed = rp.log.consumed_event_ids()
    for item in rp.store.query_items(event_log_key(event_type), sk_from=since):
        event = item.body
        if str(event.get("id")) in consumed:
            continue
        detail = event.get("detail")
        if not matches(detail, match):
            continue
        if who and not provenance.accepts(str(event.get("source", "")), event.get("resources") or (),
                                          who.get("sources"), who.get("callers")):
            continue
        if where is not None and not where(detail):
            continue
        rec = rp.record(op, "wait", "result", {"event": event})
        _cleanup(rp, op, event_type, started.data.get("timer"))
        return rec
    deadline = started.data.get("deadline")
    if deadline and rp.due(str(deadline)):
        # ``default``: the wait returns its default rather than raising WaitTimeout (for timelines).
        data = {"timeout": started.data.get("timeout"), **({"default": True} if has_default else {})}
        rec = rp.record(op, "wait", "timeout", data)
        _cleanup(rp, op, event_type, None)
        return rec
    return None


def _restrictions(sources: Sequence[str] | None, callers: Sequence[str] | None) -> dict[str, list[str]]:
    """The producer restrictions as stored on the waiter and the wait record (absent = any)."""
    out: dict[str, list[str]] = {}
    if sources is not None:
        out["sources"] = list(sources)
    if callers is not None:
        out["callers"] = list(callers)
    return out


def _cleanup(rp: Replay, op: str, event_type: str, timer: str | None) -> None:
    rp.store.delete_item(waiter_key(event_type), f"{rp.execution_id}#{op}")
    if timer:
        rp.effects.cancel_timer(str(timer))
