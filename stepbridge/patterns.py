"""Resilience patterns shared by the whole fleet: retry helper, circuit breaker, bulkhead.

State lives in the app's DynamoDB table (through the runtime's Store), so every Lambda
container sees the same breaker and the same bulkhead slots. Every decision a workflow acts
on is taken inside a durable step, so replays see the same decision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from stepbridge.api.durations import Duration, to_seconds
from stepbridge.api.retry import Backoff, Retry
from stepbridge.errors import BulkheadFullError, CircuitOpenError
from stepbridge.runtime import keys
from stepbridge.runtime.context import Context, engine_ports
from stepbridge.runtime.ports import Item, Store
from stepbridge.runtime.records import iso, parse_iso

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


async def with_retry(
    ctx: Context,
    name: str,
    fn: Callable[..., Any],
    *args: Any,
    max_attempts: int = 3,
    backoff: Backoff = "exponential",
    initial_delay: Duration = 1.0,
    max_delay: Duration = 30.0,
) -> Any:
    """The seed's ``withRetry``: run ``fn`` as a step retried with durable backoff waits."""
    policy = Retry(max_attempts=max_attempts, backoff=backoff, initial_delay=initial_delay, max_delay=max_delay)
    return await ctx.step(name, fn, *args, retry=policy)


def _store(ctx: Context) -> Store:
    return engine_ports(ctx).store


def _now(ctx: Context) -> datetime:
    return engine_ports(ctx).now()


class CircuitBreaker:
    """Closed -> open after ``threshold`` consecutive failures -> half-open after ``cooldown`` -> closed on success.

    ``await breaker.call(ctx, "step-name", fn, *args)`` runs ``fn`` as a step (one attempt per
    call by default, so each failure counts); an open breaker raises ``CircuitOpenError``
    without calling ``fn``. ``half_open_attempts`` trial calls are let through when half-open.
    """

    def __init__(self, name: str, threshold: int = 5, cooldown: Duration = 60, half_open_attempts: int = 1) -> None:
        if threshold < 1 or half_open_attempts < 1:
            raise ValueError("CircuitBreaker threshold and half_open_attempts must be >= 1")
        self.name = name
        self.threshold = threshold
        self.cooldown = to_seconds(cooldown, what=f"cooldown of circuit breaker '{name}'")
        self.half_open_attempts = half_open_attempts

    @property
    def _key(self) -> tuple[str, str]:
        return keys.breaker_key(self.name)

    async def call(
        self, ctx: Context, step: str, fn: Callable[..., Any], *args: Any, retry: Retry | None = None
    ) -> Any:
        """Run ``fn(*args)`` as step ``step`` through the breaker."""
        store = _store(ctx)
        decision = await ctx.step(f"{step}:breaker", lambda: self._acquire(store, _now(ctx)))
        if decision == OPEN:
            raise CircuitOpenError(f"circuit breaker '{self.name}' is open; step '{step}' was not called")
        try:
            result = await ctx.step(step, fn, *args, retry=retry or Retry(max_attempts=1))
        except Exception:
            await ctx.step(f"{step}:breaker-failure", lambda: self._record(store, _now(ctx), ok=False))
            raise
        await ctx.step(f"{step}:breaker-success", lambda: self._record(store, _now(ctx), ok=True))
        return result

    def state(self, store: Store, now: datetime | None = None) -> dict[str, Any]:
        """The breaker's stored state (``state``, ``failures``, ``opened_at``)."""
        item = store.get_item(*self._key)
        return dict(item.body) if item else {"state": CLOSED, "failures": 0, "opened_at": None, "trials": 0}

    def _update(self, store: Store, change: Callable[[dict[str, Any]], str]) -> str:
        for _ in range(20):
            item = store.get_item(*self._key)
            body = dict(item.body) if item else {"state": CLOSED, "failures": 0, "opened_at": None, "trials": 0}
            answer = change(body)
            ok = (
                store.put_item(Item(*self._key, body), if_version=item.version)
                if item
                else store.put_item(Item(*self._key, body, version=1), if_absent=True)
            )
            if ok:
                return answer
        raise RuntimeError(f"circuit breaker '{self.name}': too many concurrent updates")

    def _acquire(self, store: Store, now: datetime) -> str:
        def change(body: dict[str, Any]) -> str:
            if body["state"] == OPEN:
                if now - parse_iso(str(body["opened_at"])) < timedelta(seconds=self.cooldown):
                    return OPEN
                body["state"], body["trials"] = HALF_OPEN, 0
            if body["state"] == HALF_OPEN:
                if body.get("trials", 0) >= self.half_open_attempts:
                    return OPEN
                body["trials"] = body.get("trials", 0) + 1
                return HALF_OPEN
            return CLOSED

        return self._update(store, change)

    def _record(self, store: Store, now: datetime, *, ok: bool) -> str:
        def change(body: dict[str, Any]) -> str:
            if ok:
                body.update(state=CLOSED, failures=0, opened_at=None, trials=0)
            elif body["state"] == HALF_OPEN:
                body.update(state=OPEN, opened_at=iso(now), trials=0)
            else:
                body["failures"] = int(body.get("failures", 0)) + 1
                if body["failures"] >= self.threshold:
                    body.update(state=OPEN, opened_at=iso(now), trials=0)
            return str(body["state"])

        return self._update(store, change)


class Bulkhead:
    """At most ``max_concurrent`` executions of a step at once across the fleet.

    ``await bulkhead.call(ctx, "step-name", fn, *args)`` takes a slot (waiting durably, polling
    every ``poll`` seconds up to ``max_wait``), runs the step and frees the slot. A slot left by
    a crashed holder expires after ``lease`` seconds.
    """

    def __init__(
        self,
        name: str,
        max_concurrent: int,
        *,
        poll: Duration = 1,
        max_wait: Duration | None = 3600,
        lease: Duration = 900,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("Bulkhead max_concurrent must be >= 1")
        self.name = name
        self.max_concurrent = max_concurrent
        self.poll = to_seconds(poll, what="Bulkhead poll")
        self.max_wait = None if max_wait is None else to_seconds(max_wait, what="Bulkhead max_wait")
        self.lease = to_seconds(lease, what="Bulkhead lease")

    @property
    def _key(self) -> tuple[str, str]:
        return keys.bulkhead_key(self.name)

    async def call(self, ctx: Context, step: str, fn: Callable[..., Any], *args: Any, **options: Any) -> Any:
        """Run ``fn(*args)`` as step ``step`` while holding a slot."""
        store = _store(ctx)
        holder = f"{ctx.execution_id}:{step}"
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            got = await ctx.step(f"{step}:bulkhead-{attempt}", lambda: self._acquire(store, _now(ctx), holder))
            if got:
                break
            if self.max_wait is not None and waited >= self.max_wait:
                raise BulkheadFullError(f"bulkhead '{self.name}' stayed full for {waited:g} s; step '{step}' not run")
            delay = min(self.poll * (2 ** min(attempt - 1, 5)), 30.0)
            await ctx.sleep(delay, name=f"{step}:bulkhead-wait-{attempt}")
            waited += delay
        try:
            return await ctx.step(step, fn, *args, **options)
        finally:
            await ctx.step(f"{step}:bulkhead-release", lambda: self._release(store, holder))

    def holders(self, store: Store) -> dict[str, str]:
        """Current slot holders (holder id -> lease expiry)."""
        item = store.get_item(*self._key)
        return dict(item.body.get("holders", {})) if item else {}

    def _change(self, store: Store, change: Callable[[dict[str, str]], bool]) -> bool:
        for _ in range(50):
            item = store.get_item(*self._key)
            holders = dict(item.body.get("holders", {})) if item else {}
            answer = change(holders)
            ok = (
                store.put_item(Item(*self._key, {"holders": holders}), if_version=item.version)
                if item
                else store.put_item(Item(*self._key, {"holders": holders}, version=1), if_absent=True)
            )
            if ok:
                return answer
        raise RuntimeError(f"bulkhead '{self.name}': too many concurrent updates")

    def _acquire(self, store: Store, now: datetime, holder: str) -> bool:
        def change(holders: dict[str, str]) -> bool:
            for key, expiry in list(holders.items()):
                if parse_iso(expiry) <= now:
                    del holders[key]
            if holder in holders:
                return True
            if len(holders) >= self.max_concurrent:
                return False
            holders[holder] = iso(now + timedelta(seconds=self.lease))
            return True

        return self._change(store, change)

    def _release(self, store: Store, holder: str) -> bool:
        def change(holders: dict[str, str]) -> bool:
            return holders.pop(holder, None) is not None

        return self._change(store, change)


__all__ = ["Bulkhead", "CircuitBreaker", "CircuitOpenError", "with_retry"]
