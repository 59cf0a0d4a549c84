"""Child workflows: started durably from a parent, their outcome written back into the parent's journal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stepbridge.runtime import builtin, keys, payloads
from stepbridge.runtime.codec import content_hash, from_json_value, return_type, to_json_value
from stepbridge.runtime.execution_ids import check_execution_id, child_execution_id
from stepbridge.runtime.executions import check_input_size
from stepbridge.runtime.operations.child import Child
from stepbridge.runtime.operations.interpret import returned
from stepbridge.runtime.records import RUNNING, ExecutionRecord, JournalRecord, WakeMessage, iso
from stepbridge.runtime.replay import Replay
from stepbridge.runtime.vocabulary import Kind, OpType, Reason

if TYPE_CHECKING:
    from stepbridge.api.app import App, WorkflowDef


@dataclass
class ChildHandle:
    """A started child workflow: ``execution_id``, ``input`` and ``await result()``."""

    _rp: Replay
    op: str
    execution_id: str
    workflow: str
    input: object

    @property
    def data(self) -> object:
        """Alias of ``input`` (the seed's ``handle.data``)."""
        return self.input

    async def result(self) -> object:
        """Wait for the child to finish; returns its result or raises ``ChildFailed``."""

        async def attempt() -> JournalRecord | None:
            action = Child(self.op, self.execution_id).decide(Child.state(self.op, self._rp.records(self.op)))
            return returned(self._rp, self.op, OpType.CHILD, action)

        rec = await self._rp.settle(self.op, attempt)
        assert rec is not None
        wf = self._rp.app.workflows.get(self.workflow)
        value = rec.data.get("result")
        return from_json_value(value, return_type(wf.fn), wf.serde or self._rp.app.serde) if wf else value


def _definition(app: App, workflow: str) -> WorkflowDef:
    """The workflow ``workflow``: the app's, or the built-in one of a large ``ctx.map``'s child batches."""
    return builtin.builtin_workflow(app, workflow) or app.get_workflow(workflow)


async def start_child(rp: Replay, op: str, workflow: str, payload: object, execution_id: str | None) -> ChildHandle:
    """The body of ``ctx.start_child``: create the child execution, wake it, then record the dispatch.

    In this order a crash anywhere in between is repaired by the replay that follows: creating
    is idempotent by the child's id and the wake-up is de-duplicated. (Recording first would let
    a crash after the record leave a child that was never created, and the parent waiting forever.)
    """
    definition = _definition(rp.app, workflow)  # unknown workflow: a clear error in the parent
    records = rp.request(op, OpType.CHILD)
    started = Child.state(op, records).dispatch
    if started is None:
        await rp.before_new(op)
        child_id = check_execution_id(execution_id) if execution_id else child_execution_id(rp.execution_id, op)
        what = f"the input of child workflow '{workflow}' ({op})"
        serde = definition.serde or rp.app.serde
        data = payloads.store_value(to_json_value(payload, what=what, serde=serde), what=what)
        check_input_size(data, what=f"the input of child workflow '{workflow}' ({op})")
        now = iso(rp.now())
        rp.store.create_execution(
            ExecutionRecord(
                execution_id=child_id,
                workflow=workflow,
                status=RUNNING,
                input=data,
                input_hash=content_hash(data),
                parent_id=rp.execution_id,
                parent_op=op,
                created_at=now,
                started_at=now,
            )
        )
        rp.effects.wake(WakeMessage(child_id, Reason.START, keys.START_DEDUP))
        started = rp.log.record(
            op,
            OpType.CHILD,
            Kind.DISPATCH,
            {"child_id": child_id, "workflow": workflow, "input": data},
            key=keys.dispatch_key(op, 1),
        )
    return ChildHandle(rp, op, str(started.data["child_id"]), workflow, started.data["input"])
