"""``ctx.poll``: check an external system until it is ready, on durable timers (issue 14, item 2).

Composed of existing primitives, so it replays like them and every attempt is in the history: attempt
``k`` is the step ``{name}-{k}`` (``check(state)``, inline or a declared step's Lambda, with its retry
policy), and the wait before the next attempt is the durable sleep ``{name}-{k}-wait`` - no Lambda runs
while it waits. The delay starts at ``every`` and is multiplied by ``backoff`` after each attempt, capped at
``max_every``. Like Lambda durable functions' ``wait_for_condition``, the state returned by one check is the
input of the next; ``until(state)`` (default: the state is truthy) ends the poll with that state. After
``max_attempts`` checks, or when the next check would start after ``deadline``, ``PollTimeout`` is raised
carrying the last state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from stepbridge.api.durations import Duration, optional_seconds, to_seconds
from stepbridge.errors import PollTimeout, WorkflowDefinitionError

if TYPE_CHECKING:
    from stepbridge.runtime.context import Context


def _truthy(state: Any) -> bool:
    return bool(state)


async def poll(
    ctx: Context,
    name: str,
    check: Callable[..., Any],
    *,
    initial: Any = None,
    every: Duration = 30,
    backoff: float = 1.0,
    max_every: Duration | None = None,
    max_attempts: int = 60,
    until: Callable[[Any], bool] | None = None,
    deadline: Duration | None = None,
) -> Any:
    """Run ``check(state)`` as a step until ``until(state)`` holds; sleep durably in between. See the module doc."""
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        raise WorkflowDefinitionError(f"ctx.poll('{name}'): max_attempts must be a positive int, got {max_attempts!r}")
    if not isinstance(backoff, int | float) or backoff < 1:
        raise WorkflowDefinitionError(f"ctx.poll('{name}'): backoff must be a number >= 1, got {backoff!r}")
    delay = to_seconds(every, what=f"ctx.poll('{name}') every")
    cap = optional_seconds(max_every, what=f"ctx.poll('{name}') max_every")
    limit = optional_seconds(deadline, what=f"ctx.poll('{name}') deadline")
    done = until or _truthy
    started = ctx.now() if limit is not None else None  # read (and journaled) only when a deadline needs it
    state = initial
    if cap is not None:
        delay = min(delay, cap)
    for attempt in range(1, max_attempts + 1):
        state = await ctx.step(f"{name}-{attempt}", check, state)
        if done(state):
            return state
        if attempt == max_attempts:
            break
        if started is not None and limit is not None and (
            ctx.now() + timedelta(seconds=delay) > started + timedelta(seconds=limit)
        ):
            raise PollTimeout(
                f"poll '{name}' was not done within its deadline of {limit:g} s after {attempt} attempts; "
                f"last state: {_short(state)}",
                state,
            )
        await ctx.sleep(delay, name=f"{name}-{attempt}-wait")
        delay = delay * backoff if cap is None else min(delay * backoff, cap)
    raise PollTimeout(f"poll '{name}' was not done after {max_attempts} attempts; last state: {_short(state)}", state)


def _short(state: Any) -> str:
    text = repr(state)
    return text if len(text) <= 200 else text[:197] + "..."
