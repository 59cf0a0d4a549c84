"""Goal 4: fan-out, ``ctx.gather`` over N declared steps (each its own Lambda), on LocalCloud.

Reported: wall time and every AWS call (by operation), Lambda invocations, read/write units
and the time spent inside moto per service. Anchor: the durable-functions runner doing the
same fan-out with ``context.map`` over ``context.invoke`` of a registered function.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.anchors import durable_sdk
from benchmarks.common import Config, Row, Section, anchor_missing, fmt_seconds, interleave, local_cloud, median
from benchmarks.meter import AwsMeter, LambdaMeter
from benchmarks.workflows import build_app


def fan_once(backend: str, n: int, facts: dict[str, Any]) -> float:
    """One gather over N declared steps on a fresh, warmed LocalCloud; checks the result."""
    app = build_app()
    meter = AwsMeter()
    lambdas = LambdaMeter()
    with local_cloud(app, backend) as cloud, lambdas.installed(cloud, meter):
        meter.attach_cloud(cloud)
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        before, lam0, invokes0 = meter.snapshot(), lambdas.snapshot(), cloud.calls["lambda.Invoke"]
        start = time.perf_counter()
        handle = client.start("fan", n, execution_id="fan")
        result = handle.result()
        elapsed = time.perf_counter() - start
        calls, lam = meter.snapshot() - before, lambdas.snapshot() - lam0
        invokes = cloud.calls["lambda.Invoke"] - invokes0
        status = client.describe("fan").status
        lost = list(getattr(cloud, "failed_deliveries", [])) + cloud.dead_letters()
    expected = sum(range(1, n + 1))
    if result != expected or status != "SUCCEEDED":
        raise RuntimeError(f"fan({n}) on {backend}: {status} {result!r}, expected {expected}")
    facts[f"{backend}_ok"] = True
    facts[f"{backend}_lost"] = len(lost)
    facts[f"{backend}_step_invocations"] = lam.invocations["step"]
    facts[f"{backend}_orchestrator_invocations"] = lam.invocations["orchestrator"]
    facts[f"{backend}_lambda_invoke_calls"] = invokes
    if backend == "moto":
        facts["moto_calls"] = dict(calls.calls)
        facts["moto_seconds"] = {
            "DynamoDB": calls.total_seconds("DynamoDB."),
            "SQS": calls.total_seconds("SQS."),
            "Scheduler": calls.total_seconds("Scheduler."),
            "EventBridge": calls.total_seconds("EventBridge."),
        }
        facts["moto_rru"] = calls.total_rru
        facts["moto_wru"] = calls.total_wru
        facts["moto_query_items"] = calls.items_read["Query"]
    return elapsed


def run(cfg: Config) -> Section:
    """Measure; see the module docstring."""
    n = cfg.n(1000, 12)
    section = Section("fanout", f"4. Fan-out: gather over {n:,} declared steps")
    facts = section.facts
    runs = [("memory", lambda: fan_once("memory", n, facts))]
    if durable_sdk.available():
        handler = durable_sdk.fan_handler(n)
        durable_sdk.run_once(durable_sdk.fan_handler(3), expect=6, register_inc=True)  # warm-up
        runs.append(("durable", lambda: durable_sdk.run_once(handler, expect=sum(range(1, n + 1)), register_inc=True)))
    else:
        section.notes.append(anchor_missing(durable_sdk.PIP))
    fan_once("memory", 3, {})  # warm-up
    k = cfg.k(3)
    times = interleave(k, runs)
    moto_seconds = fan_once("moto", n, facts)  # once: minutes at N=1,000 (moto's SQS cost grows with queue depth)
    anchor = median(times["durable"]) if "durable" in times else None
    for label, value in (("LocalCloud (moto)", moto_seconds), ("LocalCloud (in-memory)", median(times["memory"]))):
        ok = bool(facts.get("moto_ok" if "moto" in label else "memory_ok"))
        section.rows.append(
            Row(f"wall time, {label}", fmt_seconds(value),
                f"{fmt_seconds(anchor)} (durable-functions map of invokes)" if anchor is not None else "n/a",
                value / anchor if anchor else None, "completes, all results", ok)
        )
    secs = facts.get("moto_seconds", {})
    assert isinstance(secs, dict)
    own = moto_seconds - sum(secs.values())
    section.rows.append(
        Row("wall time minus time inside moto calls, LocalCloud (moto)", fmt_seconds(own),
            f"{fmt_seconds(anchor)}" if anchor is not None else "n/a", own / anchor if anchor else None,
            "(context)", None)
    )
    calls = facts.get("moto_calls", {})
    assert isinstance(calls, dict)
    total = sum(calls.values())
    section.rows.append(
        Row("AWS API calls, LocalCloud (moto)", f"{total:,} calls ({total / n:.2f} per step)",
            "n/a", None, "report", None)
    )
    rows = [[op, f"{count:,}", f"{count / n:.2f}"] for op, count in sorted(calls.items())]
    rows.append(["Lambda invocations: step", str(facts.get("moto_step_invocations")),
                 f"{int(facts.get('moto_step_invocations', 0)) / n:.2f}"])
    rows.append(["Lambda invocations: orchestrator", str(facts.get("moto_orchestrator_invocations")),
                 f"{int(facts.get('moto_orchestrator_invocations', 0)) / n:.2f}"])
    section.tables.append(
        ("AWS calls of the moto run (execution start to result)", ["call", "count", "per step"], rows)
    )
    section.notes.append(
        "Time inside moto calls during the moto run: "
        + ", ".join(f"{svc} {fmt_seconds(v)}" for svc, v in secs.items() if v)
        + f" of {fmt_seconds(moto_seconds)}; DynamoDB ~{float(facts.get('moto_rru', 0)):.0f} RRU "
        f"(journal items read by Query: {facts.get('moto_query_items')}), ~{float(facts.get('moto_wru', 0)):.0f} WRU."
    )
    section.notes.append(
        f"In-memory and anchor times are medians of {k} interleaved runs; the moto run is measured once (it takes "
        "minutes: every step result is one SQS message on the execution's FIFO group, the queue is "
        "drained after the steps ran, and moto's SendMessage/ReceiveMessage cost grows with queue depth)."
    )
    return section
