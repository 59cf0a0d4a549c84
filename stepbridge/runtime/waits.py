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
from stepbridge.runtime import keys, payloads, provenance
from stepbridge.runtime.operations.actions import Return
from stepbridge.runtime.operations.interpret import perform
from stepbridge.runtime.operations.sleep import Sleep
from stepbridge.runtime.operations.wait import Listen, LookBack, WaitFor
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.replay import Replay
from stepbridge.runtime.vocabulary import Kind, OpType

#: Sentinel meaning "no default: raise WaitTimeout".
RAISE: Any = object()


async def sleep_until(rp: Replay, op: str, wake_at: datetime) -> None:
    """Suspend until ``wake_at`` (a durable timer); returns at once on replay after it passed."""
    records = rp.request(op, OpType.SLEEP)
    if op not in records:
        await rp.before_new(op)
    sleep = Sleep(op, wake_at, rp.timer_name(op))
    log = rp.log  # (the journal view's records and clock, as ``rp.records``/``rp.now`` give them)

    async def attempt() -> None:
        fresh = False
        while True:
            state = Sleep.state(op, log.records(op), fresh=fresh)
            action = sleep.decide(state, log.now())
            if isinstance(action, Return):
                assert state.wake_at is not None
                rp.log.passed(op, state.wake_at)
                return
            perform(rp, op, OpType.SLEEP, action)
            fresh = True

    await rp.settle(op, attempt)


def matches(detail: object, match: Mapping[str, object] | None) -> bool:
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


# (re-exported names: the builders live in runtime/keys.py)
waiter_key = keys.waiter_pk
event_log_key = keys.event_log_pk


async def wait_for(
    rp: Replay,
    op: str,
    event_type: str,
    match: Mapping[str, object] | None,
    where: Callable[[Any], bool] | None,
    timeout: float | None,
    default: Any,
    sources: Sequence[str] | None = None,
    callers: Sequence[str] | None = None,
    *,
    until: datetime | None = None,
) -> Any:
    """The body of ``ctx.wait_for``; ``sources``/``callers`` restrict the producers (runtime/provenance.py).

    ``until`` is the timeout's instant when the caller computed it (business time); else now + ``timeout``."""
    check_event_type(event_type, where=f"wait_for '{op}'")
    sources = provenance.check_filter(sources, f"wait_for '{op}': sources")
    callers = provenance.check_filter(callers, f"wait_for '{op}': callers")
    who = _restrictions(sources, callers)
    records = rp.request(op, OpType.WAIT)
    if not records:
        await rp.before_new(op)
    wait = WaitFor(op, event_type, match, timeout, who, default is not RAISE, rp.timer_name(keys.wait_key(op)), until)

    async def attempt() -> Any:
        looked = False
        while True:
            state = WaitFor.state(op, rp.records(op), looked=looked)
            action = wait.decide(state, rp.now())
            if isinstance(action, Listen):
                _listen(rp, wait, action)
            elif isinstance(action, LookBack):
                assert state.started is not None
                if _look_back(rp, wait, where, state.started) is None:
                    looked = True
            else:
                done = perform(rp, op, OpType.WAIT, action)
                if done is None or done.record is None:
                    continue
                if done.record is state.final:
                    return _result(done.record, default)
                _cleanup(rp, op, event_type, None)  # it timed out just now: the router may drop the waiter

    return await rp.settle(op, attempt)


def _result(final: JournalRecord, default: object) -> object:
    """What a finished wait gives the code: the event's detail, or its default after a timeout."""
    if final.kind == Kind.RESULT:
        return payloads.resolve(final.data["event"].get("detail"))
    return default


def _listen(rp: Replay, wait: WaitFor, action: Listen) -> None:
    """Register the wait: the waiter item first, then its record and its timeout's timer.

    Before looking back, so an event arriving in between is seen by one of us; and before recording the
    wait, so a crash in between cannot leave a recorded wait that the router does not know about (the put
    is an idempotent overwrite when the replay repeats it).
    """
    deadline = action.record.data["deadline"]
    rp.store.put_item(
        Item(
            keys.waiter_pk(wait.event_type),
            keys.waiter_sk(rp.execution_id, wait.op),
            {
                "execution_id": rp.execution_id,
                "op": wait.op,
                "match": dict(wait.match or {}),
                "deadline": deadline,
                **wait.who,
            },
            expires_at=str(deadline) if deadline else None,
        )
    )
    perform(rp, wait.op, OpType.WAIT, action.record)


def _look_back(
    rp: Replay, wait: WaitFor, where: Callable[[Any], bool] | None, started: JournalRecord
) -> JournalRecord | None:
    """Bind the first logged event since the execution started that satisfies the wait (recorded), if any."""
    since = rp.execution.started_at or rp.execution.created_at
    consumed = rp.log.consumed_event_ids()
    who = wait.who
    for item in rp.store.query_items(keys.event_log_pk(wait.event_type), sk_from=since):
        event = item.body
        if str(event.get("id")) in consumed or rp.log.after_cut(str(event.get("received", ""))):
            continue  # bound already, or arrived while the execution unwinds at its deadline
        detail = payloads.resolve(event.get("detail"))  # a claim check (a detail over 256 KB) is read back
        if not matches(detail, wait.match):
            continue
        if who and not provenance.accepts(
            str(event.get("source", "")), event.get("resources") or (), who.get("sources"), who.get("callers")
        ):
            continue
        if where is not None and not where(detail):
            continue
        rec = rp.log.record(wait.op, OpType.WAIT, Kind.RESULT, {"event": event})
        _cleanup(rp, wait.op, wait.event_type, started.data.get("timer"))
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


def _cleanup(rp: Replay, op: str, event_type: str, timer: object) -> None:
    rp.store.delete_item(keys.waiter_pk(event_type), keys.waiter_sk(rp.execution_id, op))
    if timer:
        rp.effects.cancel_timer(str(timer))
