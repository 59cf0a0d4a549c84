"""Goal 7: cost model, the AWS calls each primitive makes, priced with AWS list prices.

Each primitive runs K times in one workflow on LocalCloud (moto); the calls come from the
botocore hooks of ``benchmarks.meter`` (LocalCloud's own counters: ``cloud.calls``,
``store.calls``, ``AwsEffects.calls`` agree), plus Lambda requests (one per handler call:
orchestrator batch, step invocation, router delivery) and Scheduler invocations (timer
firings). The marginal cost of one primitive is (cost of the K-primitive execution - cost of an
empty execution) / K; after each execution the virtual clock runs 2 days so that timers left
behind fire and are counted too.

List prices, us-east-1 (``stepbridge/cost/prices.py``, shared with ``stepbridge cost``; cited in RESULTS.md):

* Lambda: $0.20 per 1M requests; $0.0000133334 per GB-second on arm64 (first tier)
  (https://aws.amazon.com/lambda/pricing/)
* DynamoDB on-demand: $0.625 per 1M write request units, $0.125 per 1M read request units
  (https://aws.amazon.com/dynamodb/pricing/on-demand/); 1 WRU = one write of up to 1 KB, 1 RRU = one
  strongly consistent read of up to 4 KB (or two eventually consistent ones)
* SQS FIFO: $0.50 per 1M requests (each 64 KB chunk of a payload is one request)
  (https://aws.amazon.com/sqs/pricing/)
* EventBridge custom events: $1.00 per 1M events (64 KB chunks) (https://aws.amazon.com/eventbridge/pricing/)
* EventBridge Scheduler: $1.00 per 1M scheduled invocations after 14M free per month; creating,
  updating and deleting schedules is not charged (https://aws.amazon.com/eventbridge/pricing/)
* Step Functions Standard: $0.025 per 1,000 state transitions = $25 per 1M
  (https://aws.amazon.com/step-functions/pricing/)
* Temporal Cloud: $25 per 1M actions (https://temporal.io/pricing, docs.temporal.io/cloud/pricing)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from benchmarks.common import Config, Row, Section, local_cloud
from benchmarks.meter import AwsMeter, Floats, LambdaMeter, floats
from benchmarks.workflows import PING, build_app, build_schedule_app
from stepbridge import App
from stepbridge.client import Client
from stepbridge.compiler.model import CompileOptions
from stepbridge.cost import model as cost_model
from stepbridge.cost.prices import US_EAST_1 as PRICES
from stepbridge.local import LocalCloud
from stepbridge.local.routerqueue import SENDS as ROUTER_QUEUE_SENDS

# One price table and one per-operation call model for the benchmarks and `stepbridge cost`.
LAMBDA_REQUEST = PRICES["lambda_request"]
LAMBDA_GB_SECOND_ARM = PRICES["lambda_gb_s_arm64"]
DDB_WRU = PRICES["ddb_wru"]
DDB_RRU = PRICES["ddb_rru"]
SQS_FIFO_REQUEST = PRICES["sqs_fifo_request"]
EVENTBRIDGE_EVENT = PRICES["eventbridge_event"]
SCHEDULER_INVOCATION = PRICES["scheduler_invocation"]
STEP_FUNCTIONS_PER_M = PRICES["sfn_transition"] * 1e6
TEMPORAL_PER_M = 25.0

#: Assumed in-region p50 latency of one call, which the calling Lambda is billed for while it waits (ms).
#: Not measured (there is no AWS here); stated so the GB-s line can be re-derived with other numbers.
LATENCY_MS = cost_model.LATENCY_MS
#: Lambda gives a function one full vCPU at 1,769 MB; below that CPU scales with memory, so in-process
#: time measured here is scaled by 1769 / memory MB.
FULL_VCPU_MB = 1769
_OPTS = CompileOptions()
MEMORY_MB = {"orchestrator": _OPTS.orchestrator_memory, "router": _OPTS.router_memory, "step": 256}
SQS_BILLED = ("SQS.SendMessage", "SQS.DeleteMessage", "SQS.ChangeMessageVisibility", "SQS.SendMessageBatch",
              "SQS.DeleteMessageBatch")


@dataclass
class Usage:
    """What one scenario consumed."""

    calls: Floats = field(default_factory=floats)
    rru: float = 0.0
    wru: float = 0.0
    sqs_requests: float = 0.0
    empty_receives: float = 0.0
    event_entries: float = 0.0
    scheduler_invocations: float = 0.0
    lambda_requests: Floats = field(default_factory=floats)
    gb_seconds: float = 0.0

    def minus(self, other: Usage) -> Usage:
        """Difference (may be fractional after :meth:`per`)."""
        calls = floats({op: self.calls[op] - other.calls[op] for op in set(self.calls) | set(other.calls)})
        lam = floats({kind: self.lambda_requests[kind] - other.lambda_requests[kind]
                      for kind in set(self.lambda_requests) | set(other.lambda_requests)})
        return Usage(calls, self.rru - other.rru, self.wru - other.wru, self.sqs_requests - other.sqs_requests,
                     self.empty_receives - other.empty_receives, self.event_entries - other.event_entries,
                     self.scheduler_invocations - other.scheduler_invocations, lam, self.gb_seconds - other.gb_seconds)

    def per(self, k: int) -> Usage:
        """Divided by ``k``."""
        return Usage(floats({op: v / k for op, v in self.calls.items()}),
                     self.rru / k, self.wru / k, self.sqs_requests / k, self.empty_receives / k,
                     self.event_entries / k, self.scheduler_invocations / k,
                     floats({kind: v / k for kind, v in self.lambda_requests.items()}),
                     self.gb_seconds / k)

    # ---- dollars ----------------------------------------------------------------------------

    def dollars(self) -> dict[str, float]:
        """Cost by service, in dollars for one occurrence."""
        return {
            "DynamoDB": self.wru * DDB_WRU + self.rru * DDB_RRU,
            "SQS": self.sqs_requests * SQS_FIFO_REQUEST,
            "EventBridge": self.event_entries * EVENTBRIDGE_EVENT,
            "Scheduler": self.scheduler_invocations * SCHEDULER_INVOCATION,
            "Lambda requests": sum(self.lambda_requests.values()) * LAMBDA_REQUEST,
            "Lambda GB-s": self.gb_seconds * LAMBDA_GB_SECOND_ARM,
        }

    def per_million(self) -> float:
        """Dollars per million occurrences."""
        return sum(self.dollars().values()) * 1e6


def _usage(meter: AwsMeter, lambdas: LambdaMeter, cloud: LocalCloud) -> Usage:
    snap, lam = meter.snapshot(), lambdas.snapshot()
    receives_with_messages = snap.calls["SQS.ReceiveMessage"] - snap.sqs_empty_receives
    gb_s = 0.0
    for kind in lam.invocations:
        # A handler run inside this one's invocation (a step answering a synchronous invoke) is waited for at
        # its own CPU share; its AWS calls stay in ``aws_calls`` below (waited for too).
        inner = {key.split("/", 1)[1]: s for key, s in lam.nested.items() if key.startswith(f"{kind}/")}
        own = max(0.0, lam.seconds[kind] - lam.aws_seconds[kind] - sum(inner.values()))
        billed = own * FULL_VCPU_MB / MEMORY_MB[kind]
        billed += sum(max(0.0, s) * FULL_VCPU_MB / MEMORY_MB[inner_kind] for inner_kind, s in inner.items())
        for key, made in lam.aws_calls.items():
            if key.startswith(f"{kind}/"):
                billed += made * LATENCY_MS.get(key.split("/", 1)[1], 10.0) / 1e3
        if kind == "orchestrator":
            billed += cloud.calls["lambda.Invoke"] * LATENCY_MS["Lambda"] / 1e3
        gb_s += billed * MEMORY_MB[kind] / 1024
    calls = floats({op: float(n) for op, n in snap.calls.items()})
    calls["Lambda.Invoke"] = float(cloud.calls["lambda.Invoke"])
    return Usage(
        calls=calls,
        rru=snap.total_rru,
        wru=snap.total_wru,
        sqs_requests=float(sum(snap.calls[op] for op in SQS_BILLED) + receives_with_messages),
        empty_receives=float(snap.sqs_empty_receives),
        event_entries=float(snap.event_entries),
        scheduler_invocations=float(lam.scheduler_invocations),
        lambda_requests=floats({kind: float(n) for kind, n in lam.invocations.items()}),
        gb_seconds=gb_s,
    )


Scenario = Callable[[LocalCloud, Client, int], None]


def _start(workflow: str) -> Scenario:
    def scenario(cloud: LocalCloud, client: Client, k: int) -> None:
        result = client.start(workflow, k).result() if workflow != "noop" else client.start("noop").result()
        if workflow != "noop" and result is None:
            raise RuntimeError(f"{workflow} returned nothing")

    return scenario


def _waits(cloud: LocalCloud, client: Client, k: int) -> None:
    handle = client.start("waits", k)
    for i in range(k):
        client.send_event(PING, {"key": f"{handle.execution_id}-{i}"})
    if handle.result() != k:
        raise RuntimeError("waits did not finish")


def _ticks(cloud: LocalCloud, client: Client, k: int) -> None:
    cloud.advance(timedelta(hours=k))
    started = client.list(workflow="tick", limit=k + 10)
    if len(started) < k or any(d.status != "SUCCEEDED" for d in started):
        raise RuntimeError(f"schedule fired {len(started)} executions, expected {k}")


@dataclass
class Measured:
    """One primitive's marginal usage and what part of it came after the execution ended."""

    name: str
    usage: Usage
    after_end: Usage


@contextmanager
def _metered(app: App) -> Iterator[tuple[Any, Client, AwsMeter, LambdaMeter]]:
    """A moto LocalCloud whose AWS calls and Lambda time are metered, warmed up by one ``noop`` run
    (first-call costs and its leftover timers are not charged to what is measured next)."""
    meter, lambdas = AwsMeter(), LambdaMeter()
    cloud = local_cloud(app, "moto")
    with cloud, lambdas.installed(cloud, meter):
        meter.attach_cloud(cloud)
        client = cloud.client()
        if app.workflows.get("noop") is not None:
            client.start("noop", execution_id="warm-up").result()
            cloud.advance(timedelta(days=2))
        yield cloud, client, meter, lambdas


def measure(app: App, scenario: Scenario, k: int, facts: dict[str, Any]) -> tuple[Usage, Usage]:
    """(total usage of the scenario including 2 days of leftover timers, the leftover part alone)."""
    with _metered(app) as (cloud, client, meter, lambdas):
        before = _usage(meter, lambdas, cloud)
        scenario(cloud, client, k)
        mid = _usage(meter, lambdas, cloud)
        if app.workflows.get("noop") is not None:
            cloud.advance(timedelta(days=2))
        after = _usage(meter, lambdas, cloud)
        # The hooks must see what stepbridge's own counters see.
        store_calls = {op: n for op, n in cloud.store.calls.items() if n}
        effects_calls = {op: n for op, n in getattr(cloud._aws_effects, "calls", {}).items() if n}
    hooked = {op.split(".", 1)[1]: n for op, n in meter.calls.items() if op.startswith("DynamoDB.")}
    # EventBridge's sends to the router queue are SQS calls LocalCloud makes for it, not the runtime's.
    effects_calls["SendMessage"] = effects_calls.get("SendMessage", 0) + cloud.calls[ROUTER_QUEUE_SENDS]
    same = store_calls == hooked and all(
        meter.calls[f"{svc}.{op}"] == n for op, n in effects_calls.items()
        for svc in ("SQS", "Scheduler", "EventBridge") if f"{svc}.{op}" in meter.calls
    )
    facts["meter_matches_counters"] = bool(facts.get("meter_matches_counters", True)) and same
    return after.minus(before), after.minus(mid)


def measure_execution(app: App, workflow: str, args: tuple[Any, ...],
                      events: Callable[[Client, str], None] | None = None) -> dict[str, float]:
    """AWS calls and units of one execution, start to two virtual days later, as the meter counts them.

    Keys as in :mod:`stepbridge.cost.model`. The client's ``result()`` reads are left out (the execution
    is driven by the virtual clock) and so are empty receives (the event source mapping's fixed cost).
    ``events(client, execution_id)`` sends what the workflow waits for, an hour in.
    """
    with _metered(app) as (cloud, client, meter, lambdas):
        before, lam_before, invokes = meter.snapshot(), lambdas.snapshot(), cloud.calls["lambda.Invoke"]
        handle = client.start(workflow, *args)
        if events is not None:
            cloud.advance(timedelta(hours=1, minutes=1))
            events(client, handle.execution_id)
        cloud.advance(timedelta(days=2))
        spent, lam = meter.snapshot() - before, lambdas.snapshot() - lam_before
        invokes = cloud.calls["lambda.Invoke"] - invokes
        record = cloud.store.get_execution(handle.execution_id)
    if record is None or record.status != "SUCCEEDED":
        raise RuntimeError(f"{workflow} did not succeed: {record.status if record else 'missing'}")
    calls = {op: float(n) for op, n in spent.calls.items() if n}
    calls["SQS.ReceiveMessage"] = calls.get("SQS.ReceiveMessage", 0.0) - spent.sqs_empty_receives
    calls["Lambda.Invoke"] = float(invokes)
    out = {k: v for k, v in calls.items() if v}
    out.update({"WRU": spent.total_wru, "RRU": spent.total_rru, "EventBridge.event": float(spent.event_entries),
                "Scheduler.invocation": float(lam.scheduler_invocations)})
    out.update({f"Lambda.{kind}": float(n) for kind, n in lam.invocations.items() if n})
    return {k: v for k, v in out.items() if v}


def predicted_execution(
    app: App, workflow: str, loops: dict[str, float] | None = None, items: dict[str, float] | None = None
) -> dict[str, float]:
    """What ``stepbridge cost`` predicts for one execution of ``workflow`` (same keys as :func:`measure_execution`)."""
    from stepbridge.cost.estimate import execution_usage
    from stepbridge.cost.ops import workflow_ops
    from stepbridge.cost.traffic import Defaults, WorkflowTraffic

    traffic = WorkflowTraffic(executions=1, loops=loops or {}, items=items or {})
    usage = execution_usage(workflow_ops(app, workflow, traffic, Defaults(payload_kb=0)), payload_kb=0)
    return {k: v for k, v in usage.items() if v}


def _check_model(section: Section) -> None:
    """The calculator's per-execution counts against the meter's, for the benchmark workflows."""
    loops = {"for i in range(n)": 3.0}

    def ping(client: Client, eid: str) -> None:
        for i in range(3):
            client.send_event(PING, {"key": f"{eid}-{i}"})

    rows, same = [], True
    for workflow, events in (("seq", None), ("declared-seq", None), ("sleeps", None), ("waits", ping),
                             ("children", None), ("sends", None)):
        app = build_app()
        measured = measure_execution(app, workflow, (3,), events)
        predicted = predicted_execution(app, workflow, loops)
        differs = sorted(k for k in set(measured) | set(predicted) if measured.get(k, 0.0) != predicted.get(k, 0.0))
        same = same and not differs
        rows.append([f"{workflow} (3)", f"{sum(cost_model.api_calls(measured).values()):g}",
                     f"{sum(cost_model.api_calls(predicted).values()):g}", ", ".join(differs) or "none"])
    section.facts["cost_model_matches_meter"] = same
    section.tables.append((
        "`stepbridge cost` model vs the meter, one execution (AWS API calls; all units compared)",
        ["workflow", "measured calls", "model calls", "keys that differ"], rows,
    ))


def _fmt_usage(u: Usage) -> list[str]:
    ddb = [f"{u.calls[f'DynamoDB.{op}']:.3g} {op}" for op in ("PutItem", "GetItem", "Query", "DeleteItem")
           if abs(u.calls[f"DynamoDB.{op}"]) > 1e-9]
    other = [f"{u.calls[op]:.3g} {op.split('.', 1)[1]}" for op in
             ("SQS.SendMessage", "Scheduler.CreateSchedule", "Scheduler.DeleteSchedule", "EventBridge.PutEvents",
              "Lambda.Invoke") if abs(u.calls[op]) > 1e-9]
    lam = ", ".join(f"{v:.3g} {kind}" for kind, v in sorted(u.lambda_requests.items()) if abs(v) > 1e-9)
    return [
        ", ".join(ddb) or "-",
        f"{u.wru:.3g} / {u.rru:.3g}",
        f"{u.sqs_requests:.3g}",
        ", ".join(other) or "-",
        f"{u.event_entries:.3g}",
        f"{u.scheduler_invocations:.3g}",
        lam or "-",
        f"{u.gb_seconds * 1e3:.3g}",
        f"${u.per_million():.3g}",
    ]


def run(cfg: Config) -> Section:
    """Measure every primitive; see the module docstring."""
    k = cfg.n(20, 2)
    section = Section("cost", f"7. Cost model (marginal cost of one primitive, K={k} per execution, on moto)")
    app = build_app()
    base, base_after = measure(app, _start("noop"), 1, section.facts)
    primitives: list[tuple[str, Scenario, str | None, float | None]] = [
        ("inline step", _start("seq"), "<= $1 per million", 1.0),
        ("declared step", _start("declared-seq"), "<= $3 per million", 3.0),
        ("declared step, concurrent (gather)", _start("fan"), None, None),
        ("sleep (durable timer)", _start("sleeps"), None, None),
        ("wait_for + matching event", _waits, None, None),
        ("child workflow (start + result)", _start("children"), None, None),
        ("send (ctx.send, routed by the router)", _start("sends"), None, None),
    ]
    table: list[list[str]] = [["execution start + finish (empty workflow)", *_fmt_usage(base)]]
    measured: list[Measured] = []
    for name, scenario, goal, limit in primitives:
        total, after_end = measure(build_app(), scenario, k, section.facts)
        marginal = total.minus(base).per(k)
        measured.append(Measured(name, marginal, after_end.minus(base_after).per(k)))
        table.append([name, *_fmt_usage(marginal)])
        dollars = marginal.per_million()
        section.facts[f"{name}_per_million"] = dollars
        section.facts[f"{name}_aws_calls"] = sum(v for op, v in marginal.calls.items() if not op.startswith("Lambda"))
        section.rows.append(
            Row(f"{name}: $ per million", f"${dollars:.3g}",
                f"${STEP_FUNCTIONS_PER_M:g} (Step Functions Standard transition) / "
                f"${TEMPORAL_PER_M:g} (Temporal action)",
                dollars / STEP_FUNCTIONS_PER_M, goal or "(report)", None if limit is None else dollars <= limit)
        )
    _check_model(section)
    ticks, ticks_after = measure(build_schedule_app(), _ticks, k, section.facts)
    tick = ticks.per(k)
    measured.append(Measured("schedule firing", tick, ticks_after.per(k)))
    table.append(["schedule firing (starts + runs an empty workflow)", *_fmt_usage(tick)])
    section.facts["schedule firing_per_million"] = tick.per_million()
    section.rows.append(
        Row("schedule firing: $ per million", f"${tick.per_million():.3g}",
            f"${STEP_FUNCTIONS_PER_M:g} / ${TEMPORAL_PER_M:g}", tick.per_million() / STEP_FUNCTIONS_PER_M,
            "(report)", None)
    )
    section.tables.append((
        "Marginal AWS usage of one primitive (per occurrence) and its list price",
        ["primitive", "DynamoDB calls", "WRU / RRU", "SQS requests", "other AWS calls", "EventBridge events",
         "Scheduler invocations", "Lambda requests", "GB-ms (est.)", "$ per million"],
        table,
    ))
    breakdown = []
    for m in measured:
        d = m.usage.dollars()
        breakdown.append([m.name, *(f"${v * 1e6:.3g}" for v in d.values()), f"${m.usage.per_million():.3g}",
                          f"${m.after_end.per_million():.3g}"])
    section.tables.append((
        "Dollars per million by service (the last column: part incurred after the execution ended, by timers "
        "left behind)",
        ["primitive", "DynamoDB", "SQS", "EventBridge", "Scheduler", "Lambda requests", "Lambda GB-s", "total",
         "of which after the end"],
        breakdown,
    ))
    section.notes.append(
        "Prices: Lambda $0.20/M requests + $0.0000133334/GB-s (arm64); DynamoDB on-demand $0.625/M WRU, $0.125/M RRU; "
        "SQS FIFO $0.50/M requests; EventBridge $1.00/M custom events; EventBridge Scheduler $1.00/M invocations "
        "(schedule create/delete not charged); Step Functions Standard $25/M transitions; Temporal Cloud $25/M "
        "actions (sources in the module docstring and RESULTS.md). Ratio = stepbridge $/M / $25."
    )
    section.notes.append(
        "Model: WRU/RRU from item sizes (1 KB / 4 KB units; the GSI copy of execution headers counted); SQS requests "
        "= SendMessage + DeleteMessage + non-empty ReceiveMessage (empty long polls are the event source mapping's "
        "fixed cost, not per primitive; LocalCloud deletes one message per call where the event source mapping "
        "batches); Lambda GB-s = (in-process time here x 1769/memory MB + assumed call latencies "
        f"{', '.join(f'{s} {v:g} ms' for s, v in LATENCY_MS.items())}) x memory (orchestrator "
        f"{MEMORY_MB['orchestrator']} MB, router {MEMORY_MB['router']} MB, step {MEMORY_MB['step']} MB). "
        "Not included: storage, CloudWatch Logs, X-Ray, data transfer, free tiers."
    )
    return section
