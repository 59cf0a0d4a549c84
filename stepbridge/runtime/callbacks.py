"""Callbacks: hand a token to an external system and wait until it reports (issue 14, item 1).

Like Step Functions' task tokens and Lambda durable functions' ``create_callback``. Built as a layer on
existing primitives, so it replays like them and every part is in the history:

* ``ctx.callback(name)`` runs the step ``name``, which draws the token (``secrets.token_urlsafe``, 256
  bits) and writes the callback's item ``CALLBACK#<token>`` (status ``PENDING``). The token is the step's
  recorded result, so a replay sees the same token and writes nothing.
* ``cb.result()`` waits (``wait_for`` named ``{name}-wait-{k}``) for the internal event
  :data:`EVENT_TYPE` naming this execution and callback, with the time left until the next deadline,
  then reads the item in the step ``{name}-check-{k}``. The item, not the event, is the truth: an event
  only wakes the execution early, so a forged or lost event cannot complete or lose a callback (a lost
  one costs a delay until the next deadline). A heartbeat moves the heartbeat deadline in the item; the
  check then finds it not yet passed and waits again.
* Completion (``client.complete_callback`` / ``fail_callback``, ``POST /callbacks/{token}/...``) is a
  conditional write of the item (status ``PENDING`` and version unchanged), so a token completes once: a
  second completion raises :class:`CallbackAlreadyCompleted` (HTTP 409) and changes nothing. A token
  with no item raises :class:`CallbackNotFound` (404). The lookup is one ``GetItem`` by key, no scan.

Results over the inline limit go to the payload bucket as a claim check (runtime/payloads.py), as any
other value. The item expires (DynamoDB TTL) :data:`KEEP_DAYS` after its deadline, or after
:data:`KEEP_DAYS_WITHOUT_DEADLINE` for a callback without one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from stepbridge.api.durations import Duration, optional_seconds
from stepbridge.errors import (
    CallbackAlreadyCompleted,
    CallbackFailed,
    CallbackNotFound,
    CallbackTimeout,
    WorkflowDefinitionError,
)
from stepbridge.runtime import keys, payloads
from stepbridge.runtime.codec import to_json_value
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import Event, JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, OpType, is_terminal

if TYPE_CHECKING:
    from stepbridge.runtime.context import Context

#: The internal event that wakes a waiting callback (detail: ``{"execution_id", "callback"}``, no token).
EVENT_TYPE = "Stepbridge.CallbackCompleted"
#: Its EventBridge source.
SOURCE = "stepbridge.callbacks"
PENDING, SUCCEEDED, FAILED, TIMED_OUT = "PENDING", "SUCCEEDED", "FAILED", "TIMED_OUT"
#: The execution ended while the callback was pending (``cancel_open_callbacks``): completing it gets a 409.
CANCELLED = "CANCELLED"
#: Token entropy in bytes: 32 bytes = 256 bits (>= 128 bits makes guessing hopeless); 43 URL-safe characters.
TOKEN_BYTES = 32
#: A token as issued; anything else is not looked up (404 without a read).
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
#: Days an item is kept after its deadline, so a late completion still gets a clear 409 rather than 404.
KEEP_DAYS = 30
#: Backstop expiry of an item of a callback without any deadline (like the retention backstop).
KEEP_DAYS_WITHOUT_DEADLINE = 365
#: Longest error name / message a failure may carry (Step Functions' SendTaskFailure: error 256, cause 32768).
MAX_ERROR_CHARS = 256
MAX_MESSAGE_CHARS = 32768
#: Conditional-write attempts under contention (heartbeats racing a completion).
_ATTEMPTS = 10


@dataclass
class Callback:
    """A pending callback: give ``token`` to the external system, then ``await result()``."""

    ctx: Context
    name: str
    token: str
    created_at: str
    timeout: float | None
    heartbeat: float | None

    async def result(self) -> Any:
        """The value the external system completed the callback with.

        Raises ``CallbackFailed`` (its ``error`` and ``message``) when it failed the callback, and
        ``CallbackTimeout`` when ``timeout`` passed, or ``heartbeat`` passed without a heartbeat.
        """
        return await _result(self)


async def create(ctx: Context, name: str, timeout: Duration | None, heartbeat: Duration | None) -> Callback:
    """The body of ``ctx.callback``: issue the token as the step ``name`` (once; replays reuse it)."""
    if not isinstance(name, str) or not name:
        raise WorkflowDefinitionError(f"ctx.callback: name must be a non-empty string, got {name!r}")
    t = optional_seconds(timeout, what=f"ctx.callback('{name}') timeout")
    h = optional_seconds(heartbeat, what=f"ctx.callback('{name}') heartbeat")
    for what, value in (("timeout", t), ("heartbeat", h)):
        if value is not None and value <= 0:
            raise WorkflowDefinitionError(f"ctx.callback('{name}'): {what} must be positive, got {value:g} s")
    rp = ctx.replay
    execution_id = rp.execution_id

    def issue() -> dict[str, object]:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = rp.now()
        body = {"execution_id": execution_id, "name": name, "status": PENDING, "created_at": iso(now),
                "heartbeat_at": iso(now), "timeout": t, "heartbeat": h}
        keep = now + timedelta(seconds=t, days=KEEP_DAYS) if t is not None else now + timedelta(
            days=KEEP_DAYS_WITHOUT_DEADLINE)
        pk, sk = keys.callback_key(token)
        rp.store.put_item(Item(pk, sk, body, version=1, expires_at=iso(keep)), if_absent=True)
        return {"token": token, "created_at": iso(now)}

    issued = await ctx.step(name, issue)
    return Callback(ctx, name, str(issued["token"]), str(issued["created_at"]), t, h)


async def wait_for_callback(
    ctx: Context,
    name: str,
    submit: Callable[..., object],
    timeout: Duration | None,
    heartbeat: Duration | None,
) -> Any:
    """The body of ``ctx.wait_for_callback``: issue, run ``submit(token)`` as step ``{name}-submit``, wait."""
    cb = await create(ctx, name, timeout, heartbeat)
    await ctx.step(f"{name}-submit", submit, cb.token)
    return await cb.result()


def _deadline(state: dict[str, Any]) -> datetime | None:
    """The earlier of the overall deadline and the heartbeat deadline of an item's state (None: no deadline)."""
    out: list[datetime] = []
    if state.get("timeout") is not None:
        out.append(parse_iso(str(state["created_at"])) + timedelta(seconds=float(state["timeout"])))
    if state.get("heartbeat") is not None:
        out.append(parse_iso(str(state["heartbeat_at"])) + timedelta(seconds=float(state["heartbeat"])))
    return min(out) if out else None


async def _result(cb: Callback) -> Any:
    ctx, rp = cb.ctx, cb.ctx.replay
    pk, sk = keys.callback_key(cb.token)

    def check() -> dict[str, Any]:
        """Read the item; mark it TIMED_OUT (conditionally: a racing completion wins) when a deadline passed."""
        for _ in range(_ATTEMPTS):
            item = rp.store.get_item(pk, sk)
            if item is None:  # expired or deleted under us: nothing can complete it any more
                return {"status": TIMED_OUT, "why": "its item is gone", "now": iso(rp.now())}
            state = dict(item.body)
            now = rp.now()
            state["now"] = iso(now)
            deadline = _deadline(state)
            if state.get("status") != PENDING or deadline is None or now < deadline:
                return state
            state["status"] = TIMED_OUT
            state["why"] = _why(state, now)
            body = {k: v for k, v in state.items() if k != "now"}
            if rp.store.put_item(Item(pk, sk, body, expires_at=item.expires_at), if_version=item.version):
                return state
        raise RuntimeError(f"callback '{cb.name}': too many concurrent updates")

    state: dict[str, Any] = {"status": PENDING, "created_at": cb.created_at, "heartbeat_at": cb.created_at,
                             "timeout": cb.timeout, "heartbeat": cb.heartbeat, "now": cb.created_at}
    k = 0
    while state.get("status") == PENDING:
        k += 1
        deadline = _deadline(state)
        # The first wait starts after ``submit`` (maybe a declared step with retries): measure from now, so the
        # deadline is not pushed back by that time; later waits follow their check at once.
        now = ctx.now() if k == 1 and deadline is not None else parse_iso(str(state["now"]))
        left = None if deadline is None else max((deadline - now).total_seconds(), 0.001)
        await ctx.wait_for(EVENT_TYPE, match={"execution_id": rp.execution_id, "callback": cb.name},
                           timeout=left, default=None, name=f"{cb.name}-wait-{k}", sources=[SOURCE])
        state = await ctx.step(f"{cb.name}-check-{k}", check)
    status = state.get("status")
    if status == SUCCEEDED:
        return payloads.resolve(state.get("result"))
    if status == FAILED:
        error, message = state.get("error"), state.get("message")
        raise CallbackFailed(f"callback '{cb.name}' failed: {error}: {message}", error, message)
    raise CallbackTimeout(f"callback '{cb.name}' timed out: {state.get('why', 'its deadline passed')}")


def _why(state: dict[str, Any], now: datetime) -> str:
    if state.get("timeout") is not None and now >= parse_iso(str(state["created_at"])) + timedelta(
            seconds=float(state["timeout"])):
        return f"not completed within its timeout of {float(state['timeout']):g} s"
    return f"no heartbeat within {float(state['heartbeat']):g} s"


# ---- external side: the client and the HTTP API -------------------------------------------------


def _load(store: Store, token: str) -> Item:
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise CallbackNotFound("no callback with this token (it is malformed; pass the token ctx.callback issued)")
    item = store.get_item(*keys.callback_key(token))
    if item is None:
        raise CallbackNotFound("no callback with this token (never issued, or expired)")
    return item


def _pending(item: Item, now: datetime) -> None:
    """Raise 409 unless the callback can still be completed (pending, no deadline passed)."""
    body = item.body
    status = body.get("status")
    if status == CANCELLED:
        raise CallbackAlreadyCompleted(
            f"callback '{body.get('name')}' of execution '{body.get('execution_id')}' was cancelled: "
            f"{body.get('cancelled_because', 'its execution ended')}; a token is single-use")
    if status != PENDING:
        raise CallbackAlreadyCompleted(
            f"callback '{body.get('name')}' of execution '{body.get('execution_id')}' is already {status}; "
            "a token is single-use")
    deadline = _deadline(body)
    if deadline is not None and now >= deadline:
        raise CallbackAlreadyCompleted(
            f"callback '{body.get('name')}' of execution '{body.get('execution_id')}' timed out "
            f"({_why(body, now)}); a token is single-use")


def _update(store: Store, effects: Effects, token: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Item:
    """Apply ``change`` to a pending callback's item with a conditional write; returns the item as written."""
    for _ in range(_ATTEMPTS):
        item = _load(store, token)
        try:
            _pending(item, effects.now())
        except CallbackAlreadyCompleted:
            if item.body.get("status") in (SUCCEEDED, FAILED):
                # A completion whose wake-up was lost (a crash between the write and the publish) is woken
                # by the caller's retry: the wake-up changes nothing, the workflow reads the item.
                _wake(effects, item)
            raise
        execution = store.get_execution(str(item.body.get("execution_id")))
        if execution is None or is_terminal(execution.status):
            ended = execution.status if execution is not None else "gone"
            raise CallbackAlreadyCompleted(
                f"callback '{item.body.get('name')}' of execution '{item.body.get('execution_id')}' cannot be "
                f"completed: the execution is {ended}")
        body = change(dict(item.body))
        new = Item(item.pk, item.sk, body, version=item.version + 1, expires_at=item.expires_at)
        if store.put_item(new, if_version=item.version):
            return new
    raise CallbackAlreadyCompleted("callback is being completed concurrently; retry, or it is already done")


def _wake(effects: Effects, item: Item) -> None:
    detail = {"execution_id": item.body["execution_id"], "callback": item.body["name"]}
    effects.publish([Event(EVENT_TYPE, detail, source=SOURCE, time=iso(effects.now()))])


def complete(store: Store, effects: Effects, token: str, result: object) -> dict[str, object]:
    """Complete a callback with ``result`` (single-use; large values become claim checks)."""
    value = payloads.store_value(to_json_value(result, what="the callback result"), what="the callback result")
    now = iso(effects.now())
    item = _update(store, effects, token, lambda b: {**b, "status": SUCCEEDED, "result": value, "completed_at": now})
    _wake(effects, item)
    return _public(item)


def fail(store: Store, effects: Effects, token: str, error: object, message: object) -> dict[str, object]:
    """Fail a callback: the workflow's ``cb.result()`` raises ``CallbackFailed(error, message)``.

    ``error`` and ``message`` are typed ``object`` because they come straight from a request body; anything
    but a string (or None) is refused here, once, for the client and the HTTP route alike."""
    for what, value, cap in (("error", error, MAX_ERROR_CHARS), ("message", message, MAX_MESSAGE_CHARS)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"fail_callback: {what} must be a string, got {type(value).__name__}")
        if value is not None and len(value) > cap:
            raise ValueError(f"fail_callback: {what} has {len(value)} characters; at most {cap} "
                             "(as Step Functions' SendTaskFailure)")
    now = iso(effects.now())
    item = _update(store, effects, token, lambda b: {**b, "status": FAILED, "error": error, "message": message,
                                                     "completed_at": now})
    _wake(effects, item)
    return _public(item)


def heartbeat(store: Store, effects: Effects, token: str) -> dict[str, object]:
    """Record that the external system is still working: the heartbeat deadline starts again."""
    now = iso(effects.now())
    return _public(_update(store, effects, token, lambda b: {**b, "heartbeat_at": now}))


def cancel_open_callbacks(
    store: Store, effects: Effects, execution_id: str, journal: list[JournalRecord], *, ended: str
) -> list[str]:
    """Mark the still-PENDING callbacks of an execution that ended ``ended`` CANCELLED (idempotent), so a
    late completion gets a clear 409 at once rather than an item that looks open until its TTL.

    The tokens are the recorded results of the ``ctx.callback`` steps (``{"token", "created_at"}``); only an
    item naming this execution is touched. Returns the names of the callbacks cancelled now."""
    cancelled: list[str] = []
    for rec in journal:
        result = rec.data.get("result") if rec.type == OpType.STEP and rec.kind == Kind.RESULT else None
        token = result.get("token") if isinstance(result, dict) and set(result) == {"token", "created_at"} else None
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            continue
        for _ in range(_ATTEMPTS):
            item = store.get_item(*keys.callback_key(token))
            if item is None or item.body.get("execution_id") != execution_id or item.body.get("status") != PENDING:
                break
            body = {**item.body, "status": CANCELLED, "cancelled_at": iso(effects.now()),
                    "cancelled_because": f"its execution ended {ended}"}
            # Conditional on the version read: a completion or heartbeat written in between is read again
            # (a completed callback is left as it is; a heartbeated one is cancelled on the next try).
            if store.put_item(Item(item.pk, item.sk, body, version=item.version + 1, expires_at=item.expires_at),
                              if_version=item.version):
                cancelled.append(str(body.get("name")))
                break
    return cancelled


def _public(item: Item) -> dict[str, object]:
    """What a caller learns: the callback's execution, name and status (never its result)."""
    body = item.body
    return {"execution_id": body.get("execution_id"), "callback": body.get("name"), "status": body.get("status")}


__all__ = [
    "EVENT_TYPE",
    "Callback",
    "cancel_open_callbacks",
    "complete",
    "create",
    "fail",
    "heartbeat",
    "wait_for_callback",
]
