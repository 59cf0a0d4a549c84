"""``ctx.set_status(obj)``: a small custom status on the execution (issue 14, item 7; Azure Durable Functions'
``set_custom_status``), shown by ``describe(id).custom_status``, ``GET /executions/{id}`` and
``stepbridge executions show``.

The status lives on the execution header, beside the input, the outcome and the progress, inside the
room the header keeps for them (``limits.EXECUTION_RESERVE_BYTES``, 16 KB), so it is capped at
``MAX_CUSTOM_STATUS_BYTES``. Azure caps its custom status at 16 KB of UTF-16 text (Durable Functions
documentation, "Custom orchestration status"); ours is a quarter of the header's reserve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepbridge.runtime.codec import to_json_value
from stepbridge.runtime.limits import check_json_size
from stepbridge.runtime.vocabulary import Kind, OpType

if TYPE_CHECKING:
    from stepbridge.runtime.replay import Replay

#: Largest custom status (its compact JSON, UTF-8 bytes).
MAX_CUSTOM_STATUS_BYTES = 4 * 1024


def check_status(execution_id: str, value: Any) -> Any:
    """``value`` as JSON data, or ``PayloadTooLarge`` naming the execution and the sizes."""
    data = to_json_value(value, what=f"the custom status of execution '{execution_id}'")
    check_json_size(data, MAX_CUSTOM_STATUS_BYTES, lambda size: (
        f"the custom status of execution '{execution_id}' is {size:,} bytes, over the "
        f"{MAX_CUSTOM_STATUS_BYTES:,}-byte limit (it is kept on the execution record); set a short summary "
        "and keep details in a step result"
    ))
    return data


def set_status(rp: Replay, value: Any) -> None:
    """Record the status once per call site (not again on replay) and put it on the header."""
    from stepbridge.runtime.executions import update_execution
    from stepbridge.runtime.replay import refuse_while_suspending

    op = rp.session.auto_name("$status")
    rp.session.mark(op, OpType.STATUS)
    if op in rp.records(op):
        return
    refuse_while_suspending()
    data = check_status(rp.execution_id, value)
    # The header first: recorded first, a crash in between would leave the status unset for good.
    update_execution(rp.store, rp.execution_id, lambda rec: setattr(rec, "custom_status", data))
    rp.log.record(op, OpType.STATUS, Kind.STATUS, {"status": data})
