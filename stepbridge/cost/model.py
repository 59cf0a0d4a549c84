"""The AWS calls each stepbridge operation makes: the one table the benchmarks and ``stepbridge cost`` share.

Each entry is the marginal usage of one occurrence, as measured on LocalCloud (moto) by
``benchmarks/meter.py`` (botocore hooks) and checked against the calculator by
``tests/functional/test_cost_calculator.py``. Keys name API calls as the meter does
(``Service.Operation``) plus billable units:

* ``WRU`` / ``RRU`` - DynamoDB request units for payloads under 1 KB (``ceil(size / 1 KB)`` per write,
  ``ceil(size / 4 KB)`` per strongly consistent read, half for eventually consistent ones),
* ``SQS.ReceiveMessage`` counts receives that returned a message (the event source mapping's empty
  long polls are a fixed cost per queue, not per operation),
* ``Lambda.orchestrator`` / ``Lambda.step`` / ``Lambda.router`` - Lambda requests per function kind,
* ``Scheduler.invocation`` - a one-time timer firing (billed), ``EventBridge.event`` - a custom event.

``LAMBDA_CALLS`` says inside which function each call is made, for the duration estimate: a Lambda is
billed while it waits on its AWS calls (``LATENCY_MS``, assumed, not measured: there is no AWS here).
"""

from __future__ import annotations

from collections.abc import Mapping

Usage = dict[str, float]

#: One execution's start and finish, with nothing in between (the ``noop`` workflow): the start writes
#: the header (with its by-workflow GSI copy: 2 WRU) and sends the start message; the orchestrator reads
#: the header and the journal in one Query (``Store.load_execution``), and writes the finished header.
EXECUTION: Usage = {
    "DynamoDB.PutItem": 2, "DynamoDB.Query": 1, "WRU": 4, "RRU": 1,
    "SQS.SendMessage": 1, "SQS.ReceiveMessage": 1, "SQS.DeleteMessage": 1, "Lambda.orchestrator": 1,
}

#: Per occurrence, on top of :data:`EXECUTION`.
OPERATIONS: dict[str, Usage] = {
    # ctx.step with a plain function: one journal write inside the running orchestrator.
    "inline_step": {"DynamoDB.PutItem": 1, "WRU": 1},
    # ctx.step with an @app.step function awaited alone and answering within the app's step_reply_window
    # (runtime/stepreply.py): the orchestrator journals the dispatch, arms the deadline timer and invokes the
    # step's Lambda synchronously; the step reads the header (eventually consistent) and writes its result,
    # then answers; the orchestrator disarms the timer, reads the header and probes the log's next slot (a
    # GetItem: ``DynamoStore.load_journal_since(dense=True)``), and goes on in the same invocation.
    "declared_step": {
        "DynamoDB.PutItem": 2, "DynamoDB.GetItem": 3, "WRU": 2, "RRU": 2.5,
        "Scheduler.CreateSchedule": 1, "Scheduler.DeleteSchedule": 1, "Lambda.Invoke": 1, "Lambda.step": 1,
    },
    # The same step run concurrently (gather, map) or outlasting the window: invoked asynchronously, it
    # disarms the timer itself and wakes the orchestrator through the FIFO queue (send, receive, delete),
    # whose next invocation reads the header and probes the log.
    "declared_step_queued": {
        "DynamoDB.PutItem": 2, "DynamoDB.GetItem": 3, "WRU": 2, "RRU": 2.5,
        "SQS.SendMessage": 1, "SQS.ReceiveMessage": 1, "SQS.DeleteMessage": 1,
        "Scheduler.CreateSchedule": 1, "Scheduler.DeleteSchedule": 1, "Lambda.Invoke": 1,
        "Lambda.orchestrator": 1, "Lambda.step": 1,
    },
    # ctx.sleep / sleep_until: a one-time schedule whose firing sends the wake-up.
    "sleep": {
        "DynamoDB.PutItem": 1, "DynamoDB.GetItem": 2, "WRU": 1, "RRU": 2,
        "SQS.SendMessage": 1, "SQS.ReceiveMessage": 1, "SQS.DeleteMessage": 1,
        "Scheduler.CreateSchedule": 1, "Scheduler.invocation": 1, "Lambda.orchestrator": 1,
    },
    # ctx.wait_for plus the matching event (its PutEvents included): waiter record, event log, router
    # delivery (through the router queue: EventBridge's send, the event source mapping's receive and
    # delete), wake-up.
    "wait_for": {
        "DynamoDB.PutItem": 4, "DynamoDB.GetItem": 2, "DynamoDB.Query": 3, "DynamoDB.DeleteItem": 1,
        "WRU": 5, "RRU": 5, "EventBridge.PutEvents": 1, "EventBridge.event": 1,
        "SQS.SendMessage": 2, "SQS.ReceiveMessage": 2, "SQS.DeleteMessage": 2,
        "Lambda.orchestrator": 1, "Lambda.router": 1,
    },
    # ctx.child / start_child of an empty workflow: the child's whole execution and its report to the parent.
    "child": {
        "DynamoDB.PutItem": 4, "DynamoDB.GetItem": 2, "DynamoDB.Query": 1, "WRU": 6, "RRU": 3,
        "SQS.SendMessage": 2, "SQS.ReceiveMessage": 2, "SQS.DeleteMessage": 2, "Lambda.orchestrator": 2,
    },
    # ctx.now() / ctx.patched(): one journal record, so replays see the same value.
    "record": {"DynamoDB.PutItem": 1, "WRU": 1},
    # ctx.send: journal record, PutEvents, and the router's delivery of the event (the app's bus rule,
    # through the router queue: send, receive, delete).
    "send": {
        "DynamoDB.PutItem": 2, "DynamoDB.Query": 1, "WRU": 2, "RRU": 1,
        "EventBridge.PutEvents": 1, "EventBridge.event": 1, "Lambda.router": 1,
        "SQS.SendMessage": 1, "SQS.ReceiveMessage": 1, "SQS.DeleteMessage": 1,
    },
}

# ctx.wait_for(..., timeout=) whose event arrives first: the wait plus its timeout timer, armed and
# disarmed (schedule API calls are not billed; the orchestrator waits on them).
OPERATIONS["wait_for_timeout"] = {
    **OPERATIONS["wait_for"], "Scheduler.CreateSchedule": 1, "Scheduler.DeleteSchedule": 1,
}

#: Calls each operation makes inside each function kind, by service (for the duration estimate).
LAMBDA_CALLS: dict[str, dict[str, dict[str, float]]] = {
    "execution": {"orchestrator": {"DynamoDB": 3}},
    "inline_step": {"orchestrator": {"DynamoDB": 1}},
    # (answered in-process: the orchestrator also waits while the step makes its two DynamoDB calls)
    "declared_step": {
        "orchestrator": {"DynamoDB": 5, "Scheduler": 2, "Lambda": 1},
        "step": {"DynamoDB": 2},
    },
    "declared_step_queued": {
        "orchestrator": {"DynamoDB": 3, "Scheduler": 1, "Lambda": 1},
        "step": {"DynamoDB": 2, "SQS": 1, "Scheduler": 1},
    },
    "sleep": {"orchestrator": {"DynamoDB": 3, "Scheduler": 1}},
    "wait_for": {"orchestrator": {"DynamoDB": 8}, "router": {"DynamoDB": 2, "SQS": 1}},
    "child": {"orchestrator": {"DynamoDB": 8, "SQS": 2}},
    "send": {"orchestrator": {"DynamoDB": 1, "EventBridge": 1}, "router": {"DynamoDB": 2}},
    "record": {"orchestrator": {"DynamoDB": 1}},
    "wait_for_timeout": {"orchestrator": {"DynamoDB": 8, "Scheduler": 2}, "router": {"DynamoDB": 2, "SQS": 1}},
}

#: Assumed in-region p50 latency of one call (ms), billed while the calling Lambda waits on it.
LATENCY_MS: dict[str, float] = {"DynamoDB": 6.0, "SQS": 8.0, "Scheduler": 20.0, "EventBridge": 10.0, "Lambda": 15.0}
#: Assumed in-process time of one handler invocation (ms): decode, replay, encode, at the function's memory.
HANDLER_MS: dict[str, float] = {"orchestrator": 5.0, "step": 2.0, "router": 2.0}

#: API calls (meter names) that are SQS requests; each 64 KB chunk of a payload is one more request.
SQS_REQUESTS = ("SQS.SendMessage", "SQS.ReceiveMessage", "SQS.DeleteMessage")
#: Records (WRU) that carry the payload: the execution's input/output on its header, a step's result.
PAYLOAD_RECORDS: dict[str, float] = {
    "execution": 2, "inline_step": 1, "declared_step": 1, "declared_step_queued": 1, "child": 2, "send": 1,
}
#: The kinds of a declared step (its own Lambda): answered in-process, or woken through the queue.
DECLARED = ("declared_step", "declared_step_queued")


def usage_of(kind: str) -> Usage:
    """The usage of one ``kind`` (``"execution"`` or a key of :data:`OPERATIONS`), as a fresh dict."""
    return dict(EXECUTION if kind == "execution" else OPERATIONS[kind])


def add(total: Usage, part: Mapping[str, float], times: float = 1.0) -> None:
    """``total += part * times`` in place."""
    for key, value in part.items():
        total[key] = total.get(key, 0.0) + value * times


def api_calls(usage: Mapping[str, float]) -> dict[str, float]:
    """Only the AWS API calls of ``usage`` (what the benchmark meter counts), without zeros."""
    units = {"WRU", "RRU", "Scheduler.invocation", "EventBridge.event", *(f"Lambda.{k}" for k in HANDLER_MS)}
    return {k: v for k, v in usage.items() if k not in units and v}
