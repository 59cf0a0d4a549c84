"""Step SLAs: ``ctx.step(..., sla=BusinessHours(4), on_breach=fn)`` around the unchanged step path.

A layer on the existing primitives, so the step engine is untouched when ``sla=`` is not given:

1. the inline step ``{name}:sla`` computes the deadline once (business time on the calendar, or real
   time), arms a one-time timer that wakes the execution at that instant, and journals the instant;
2. every replay, in a branch beside the step (``ctx.gather``): a breach already journaled replays; else,
   when the step has no final record and the deadline has passed, the breach happens now -
   ``ctx.send("Step.sla_breached", ...)`` (op ``{name}:sla-breached``) and ``on_breach(info)`` as the
   step ``{name}:on-breach``;
3. after the step: a step whose final record was written after the deadline (an inline step that ran
   long, or a report that beat the timer's wake-up) is breached then, so every late step is reported.

The breach never fails the execution; only ``on_breach`` raising does (its step's retries first).
The decision reads only journaled facts (deadline, the step's final record and its time), so replays
take the same path. A timer that fires after the step finished wakes the execution once, for nothing.
A lost timer is the sweeper's (:func:`due_instants`): past the deadline of an unfinished, unbreached step
the execution is stale and woken, so the breach is late by at most a sweep, never missed until the step ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepbridge.api.calendar import Calendar
from stepbridge.runtime import business
from stepbridge.runtime.records import JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, OpType

if TYPE_CHECKING:
    from stepbridge.runtime.context import Context

#: Final record kinds of a step (as the orchestrator's clean-up counts them).
_FINAL = (Kind.RESULT, Kind.ERROR, Kind.TIMEOUT)
BREACH_EVENT = "Step.sla_breached"
#: The SLA's own operations: ``{name}:sla`` arms it (its result is the deadline), ``{name}:sla-breached``
#: records a breach.
SLA_SUFFIX, BREACHED_SUFFIX = ":sla", ":sla-breached"


async def run_with_sla(
    ctx: Context,
    name: str,
    sla: Any,
    on_breach: Callable[..., Any] | None,
    calendar: Calendar | None,
    run: Callable[[], Awaitable[Any]],
) -> Any:
    """Await ``run()`` (the step) with an SLA watch around it; see the module docstring."""
    rp = ctx.replay
    what = f"sla of step '{name}'"
    if business.is_business(sla):
        business.calendar_for(rp.app, calendar, sla, what=what)  # a missing calendar fails before anything runs
    else:
        business.instant_after(rp.app, rp.now(), sla, None, what=what)  # type/negativity check

    def arm() -> str:
        at = business.instant_after(rp.app, rp.now(), sla, calendar, what=what)
        rp.set_timer(f"{name}{SLA_SUFFIX}", at, f"sla:{name}")
        return iso(at)

    deadline = str(await ctx.step(f"{name}{SLA_SUFFIX}", arm))
    breach_op = f"{name}{BREACHED_SUFFIX}"

    async def watch() -> None:
        # A branch beside the step (ctx.gather), so the step's recorded operations are asked for first.
        while True:
            final = rp.records(name).get(name)
            finished = final is not None and final.kind in _FINAL
            if rp.records(breach_op) or (not finished and rp.due(deadline)):
                await _breach(ctx, name, sla, deadline, on_breach)
                return
            # A replay looks again on every wake-up; a parked workflow (sticky executions) waits for the next one.
            if finished or not await rp.parked_until_woken(breach_op):
                return

    async def step() -> Any:
        try:
            return await run()
        finally:
            rp.wake_parked(breach_op)  # the step ended: the watch need not wait any more

    result, _ = await ctx.gather(step(), watch())
    final = rp.records(name).get(name)
    if not rp.records(breach_op) and final is not None and final.at and parse_iso(final.at) > parse_iso(deadline):
        await _breach(ctx, name, sla, deadline, on_breach)
    return result


def due_instants(by_op: Mapping[str, Mapping[str, JournalRecord]]) -> list[tuple[str, datetime]]:
    """For the sweeper: ``({name}:sla-breached, deadline)`` of each armed SLA whose step has not finished and
    whose breach is not recorded. Only the SLA's timer would wake the execution at that instant (a step in
    flight, a retry backoff or a wait may wake it much later): if Scheduler loses it, the sweeper does, and
    the replay breaches then (``runtime/sweeper.py``'s ``due_instants``)."""
    instants: list[tuple[str, datetime]] = []
    for op, records in by_op.items():
        if not op.endswith(SLA_SUFFIX):
            continue
        armed = records.get(op)
        if armed is None or armed.type != OpType.STEP or armed.kind != Kind.RESULT:
            continue
        name = op[: -len(SLA_SUFFIX)]
        final = by_op.get(name, {}).get(name)
        if (final is not None and final.kind in _FINAL) or f"{name}{BREACHED_SUFFIX}" in by_op:
            continue
        try:
            at = parse_iso(str(armed.data.get("result")))
        except ValueError:
            continue  # a user step that happens to end in ":sla"
        instants.append((f"{name}{BREACHED_SUFFIX}", at))
    return instants


async def _breach(ctx: Context, name: str, sla: Any, deadline: str, on_breach: Callable[..., Any] | None) -> None:
    info = {
        "execution_id": ctx.execution_id,
        "workflow": ctx.workflow,
        "step": name,
        "sla": business.describe(sla),
        "deadline": deadline,
    }
    await ctx.send(BREACH_EVENT, info, name=f"{name}:sla-breached")
    if on_breach is not None:
        await ctx.step(f"{name}:on-breach", on_breach, info)


__all__ = ["BREACH_EVENT", "run_with_sla"]
