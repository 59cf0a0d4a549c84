"""The monthly bill of an app: operations per execution x the model's calls x list prices.

Per execution of a workflow, usage is :data:`~stepbridge.cost.model.EXECUTION` plus each operation's
:data:`~stepbridge.cost.model.OPERATIONS` entry times its expected count (x attempts). Payloads:
records that carry one (:data:`~stepbridge.cost.model.PAYLOAD_RECORDS`) cost ``ceil((KB + 0.25) / 1)``
WRU each instead of 1; SQS requests and EventBridge events count one per started 64 KB chunk.

Lambda duration: each invocation is billed :data:`~stepbridge.cost.model.HANDLER_MS` plus the
latency of the calls it makes (:data:`~stepbridge.cost.model.LATENCY_MS`), at the function's memory;
your step code runs for its ``duration_ms`` per attempt, inline steps inside the orchestrator (its
memory), declared steps in their own function (their ``memory=``). A declared step awaited alone whose
duration is within the app's ``step_reply_window`` answers in-process (runtime/stepreply.py): the
orchestrator is billed while it waits for it; one that outlasts the window costs the window's wait and
the wake-up through the queue (``declared_step_queued``, as every declared step run by ``gather``/``map``).

The comparisons price the same operations the way the other services count them:

* **Step Functions Standard** - one state transition per state entered: a Task per step attempt
  (inline or declared), sleep (Wait), wait_for (Task with a task token), send (Task
  ``events:putEvents``) and child (Task ``startExecution.sync``, plus the child's own execution); a
  Choice per ``if`` evaluated and per loop iteration (and one to leave the loop); a Parallel per
  ``gather``, a Map per ``ctx.map``; one for the execution's final state. The step code still runs
  in Lambda: one request per step attempt and its duration at the step's memory are added.
* **Lambda durable functions** - one durable operation for the execution's start, each step attempt,
  wait (sleep), callback (wait_for), send (a step), chained invoke (child, plus the child's start);
  a map or parallel and one child context per item or branch. The function is invoked once and once
  more after each sleep, wait_for and child; it bills a request and HANDLER_MS + 6 ms per checkpointed
  operation, plus the step code, at the orchestrator's memory. Data written is each operation's
  payload; data retained is that data for ``retention_days`` (14 by default, Lambda's default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stepbridge.api.app import App
from stepbridge.compiler.model import CompileOptions
from stepbridge.cost import model
from stepbridge.cost.ops import WorkflowOps, workflow_ops
from stepbridge.cost.prices import PriceTable
from stepbridge.cost.traffic import Traffic

SERVICES = ("Lambda requests", "Lambda duration", "DynamoDB", "SQS", "EventBridge", "Scheduler", "S3")
_CHUNK_KB = 64.0
_RECORD_OVERHEAD_KB = 0.25


@dataclass
class WorkflowCost:
    """One workflow's usage and dollars."""

    name: str
    executions: float
    ops: WorkflowOps
    usage: model.Usage  # per execution
    gb_seconds: float  # per execution
    dollars: dict[str, float]  # per month, by service
    sfn_transitions: float  # per execution
    sfn_dollars: float  # per month (transitions + Lambda for the step code)
    ldf_operations: float  # per execution
    ldf_dollars: float  # per month (operations + requests + duration + data)

    @property
    def total(self) -> float:
        """Dollars per month on stepbridge."""
        return sum(self.dollars.values())


@dataclass
class Estimate:
    """The whole app's monthly bill."""

    app: str
    prices: PriceTable
    architecture: str
    workflows: list[WorkflowCost] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def by_service(self) -> dict[str, float]:
        """Dollars per month by service, all workflows."""
        return {s: sum(w.dollars[s] for w in self.workflows) for s in SERVICES}

    @property
    def total(self) -> float:
        """Dollars per month on stepbridge."""
        return sum(w.total for w in self.workflows)

    @property
    def sfn_total(self) -> float:
        """Dollars per month on Step Functions Standard."""
        return sum(w.sfn_dollars for w in self.workflows)

    @property
    def ldf_total(self) -> float:
        """Dollars per month on Lambda durable functions."""
        return sum(w.ldf_dollars for w in self.workflows)


def execution_usage(ops: WorkflowOps, payload_kb: float = 0.0) -> model.Usage:
    """AWS usage of one execution (calls and units), from its operations."""
    usage = model.usage_of("execution")
    extra_wru = max(0, math.ceil(payload_kb + _RECORD_OVERHEAD_KB) - 1) if payload_kb else 0
    chunks = max(1, math.ceil(payload_kb / _CHUNK_KB)) if payload_kb else 1
    usage["WRU"] += model.PAYLOAD_RECORDS["execution"] * extra_wru
    for occ in ops.occurrences:
        times = occ.count * occ.attempts
        model.add(usage, model.OPERATIONS[occ.kind], times)
        usage["WRU"] += model.PAYLOAD_RECORDS.get(occ.kind, 0) * extra_wru * times
    extra_chunks = chunks - 1
    if extra_chunks:
        usage["SQS.extra_chunks"] = sum(usage.get(k, 0.0) for k in model.SQS_REQUESTS) * extra_chunks
        usage["EventBridge.extra_chunks"] = usage.get("EventBridge.event", 0.0) * extra_chunks
    return usage


def gb_seconds(ops: WorkflowOps, memory: dict[str, int]) -> float:
    """Estimated Lambda GB-seconds of one execution (see the module docstring)."""
    total = 0.0

    def billed(kind: str, times: float) -> None:
        nonlocal total
        for fn_kind, calls in model.LAMBDA_CALLS[kind].items():
            ms = sum(model.LATENCY_MS[svc] * n for svc, n in calls.items())
            total += times * ms / 1000 * memory[fn_kind] / 1024

    billed("execution", 1.0)
    invocations = model.usage_of("execution")
    for occ in ops.occurrences:
        times = occ.count * occ.attempts
        billed(occ.kind, times)
        model.add(invocations, model.OPERATIONS[occ.kind], times)
        fn_memory = occ.memory_mb if occ.kind in model.DECLARED and occ.memory_mb else memory["orchestrator"]
        if occ.kind in ("inline_step", *model.DECLARED):
            total += times * occ.duration_ms / 1000 * fn_memory / 1024
        if occ.kind == "declared_step":  # the orchestrator waits for the step's answer
            total += times * (occ.duration_ms + model.HANDLER_MS["step"]) / 1000 * memory["orchestrator"] / 1024
        total += times * occ.waited_ms / 1000 * memory["orchestrator"] / 1024
    for fn_kind, ms in model.HANDLER_MS.items():
        n = invocations.get(f"Lambda.{fn_kind}", 0.0)
        if fn_kind == "step":
            continue  # per declared step below, at its own memory
        total += n * ms / 1000 * memory[fn_kind] / 1024
    for occ in ops.occurrences:
        if occ.kind in model.DECLARED:
            total += occ.count * occ.attempts * model.HANDLER_MS["step"] / 1000 * (occ.memory_mb or 256) / 1024
    return total


def _sfn(ops: WorkflowOps, prices: PriceTable, gb_s_price: float) -> tuple[float, float]:
    """(transitions per execution, dollars per execution) on Step Functions Standard."""
    transitions = 1.0 + ops.sfn_states
    lambda_dollars = 0.0
    for occ in ops.occurrences:
        times = occ.count * occ.attempts
        if occ.kind != "record":  # the time and patch markers need no state in Step Functions
            transitions += times + (1.0 if occ.kind == "child" else 0.0) * times
        if occ.kind in ("inline_step", *model.DECLARED):
            mem = occ.memory_mb or 256
            lambda_dollars += times * (prices["lambda_request"] + occ.duration_ms / 1000 * mem / 1024 * gb_s_price)
    return transitions, transitions * prices["sfn_transition"] + lambda_dollars


def _ldf(ops: WorkflowOps, prices: PriceTable, gb_s_price: float, memory_mb: int, payload_kb: float,
         retention_days: float) -> tuple[float, float]:
    """(durable operations per execution, dollars per execution) on Lambda durable functions."""
    operations = 1.0 + ops.ldf_operations
    invocations = 1.0
    seconds = 0.0
    for occ in ops.occurrences:
        times = occ.count * occ.attempts
        operations += times * (2.0 if occ.kind == "child" else 1.0)
        if occ.kind in ("sleep", "wait_for", "wait_for_timeout", "child"):
            invocations += times * (2.0 if occ.kind == "child" else 1.0)
        if occ.kind in ("inline_step", *model.DECLARED):
            seconds += times * occ.duration_ms / 1000
    seconds += invocations * model.HANDLER_MS["orchestrator"] / 1000 + operations * model.LATENCY_MS["DynamoDB"] / 1000
    written_gb = operations * payload_kb / (1024 * 1024)
    dollars = (operations * prices["ldf_operation"] + invocations * prices["lambda_request"]
               + seconds * memory_mb / 1024 * gb_s_price + written_gb * prices["ldf_data_written"]
               + written_gb * retention_days / 30 * prices["ldf_data_retained"])
    return operations, dollars


def estimate(app: App, traffic: Traffic, prices: PriceTable, *, retention_days: float = 14.0) -> Estimate:
    """Price ``traffic`` on ``app`` with ``prices``."""
    opts = CompileOptions()
    memory = {"orchestrator": opts.orchestrator_memory, "router": opts.router_memory, "step": 256}
    arch = "x86_64" if app.architecture == "x86_64" else "arm64"
    gb_s_price = prices[f"lambda_gb_s_{arch}"]
    result = Estimate(app.name, prices, arch)
    for name, wt in traffic.workflows.items():
        ops = workflow_ops(app, name, wt, traffic.defaults, traffic.workflows)
        payload = traffic.defaults.payload_kb if wt.payload_kb is None else wt.payload_kb
        usage = execution_usage(ops, payload)
        gb_s = gb_seconds(ops, memory)
        n = wt.executions
        sqs = sum(usage.get(k, 0.0) for k in model.SQS_REQUESTS) + usage.get("SQS.extra_chunks", 0.0)
        events = usage.get("EventBridge.event", 0.0) + usage.get("EventBridge.extra_chunks", 0.0)
        lambda_requests = sum(usage.get(f"Lambda.{k}", 0.0) for k in model.HANDLER_MS)
        dollars = {
            "Lambda requests": n * lambda_requests * prices["lambda_request"],
            "Lambda duration": n * gb_s * gb_s_price,
            "DynamoDB": n * (usage.get("WRU", 0.0) * prices["ddb_wru"] + usage.get("RRU", 0.0) * prices["ddb_rru"]),
            "SQS": n * sqs * prices["sqs_fifo_request"],
            "EventBridge": n * events * prices["eventbridge_event"],
            "Scheduler": n * usage.get("Scheduler.invocation", 0.0) * prices["scheduler_invocation"],
            "S3": 0.0,  # stepbridge stores no payloads in S3 yet (no claim-check storage)
        }
        transitions, sfn_each = _sfn(ops, prices, gb_s_price)
        operations, ldf_each = _ldf(ops, prices, gb_s_price, memory["orchestrator"], payload, retention_days)
        result.workflows.append(WorkflowCost(name, n, ops, usage, gb_s, dollars, transitions, n * sfn_each,
                                             operations, n * ldf_each))
        result.assumptions += [a for a in dict.fromkeys(ops.assumptions) if a not in result.assumptions]
    return result
