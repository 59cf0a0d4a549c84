"""Goal 4: fan-out, ``ctx.gather`` over N declared steps (each its own Lambda), on LocalCloud; and (issue 17
goal 2) ``ctx.map`` over 10,000 declared steps with concurrency 200 against 1,000 (``map_scaling``).

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
from stepbridge.runtime import batchchildren
from stepbridge.runtime.limits import MAX_JOURNAL_RECORDS


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


def map_once(backend: str, n: int, facts: dict[str, Any]) -> tuple[float, float]:
    """One ``ctx.map`` over N declared steps with concurrency 200 on a fresh LocalCloud: ``(wall s, CPU s)``.

    Checks the result and counts the journal records of the parent and of its largest child batch (issue
    17 goal 2). CPU time (this process, all threads) is reported beside the wall time: on a shared machine
    it does not count the time other processes held the CPU.
    """
    app = build_app()
    with local_cloud(app, backend) as cloud:
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        start, cpu = time.perf_counter(), time.process_time()
        result = client.start("map-fan", n, execution_id="map").result()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        children = [str(e.detail.get("child_id")) for e in client.history("map") if e.detail_type == "Child.started"]
        facts[f"map_{backend}_{n}_parent_records"] = len(cloud.store.load_journal("map"))
        facts[f"map_{backend}_{n}_children"] = len(children)
        facts[f"map_{backend}_{n}_max_child_records"] = max(
            (len(cloud.store.load_journal(c)) for c in children), default=0
        )
        facts[f"map_{backend}_{n}_invokes"] = cloud.calls["lambda.Invoke"]
    if result != sum(range(1, n + 1)):
        raise RuntimeError(f"map-fan({n}) on {backend}: {result!r}, expected {sum(range(1, n + 1))}")
    facts[f"map_{backend}_{n}_ok"] = True
    return elapsed, cpu


def map_scaling(cfg: Config, section: Section) -> None:
    """time(10,000)/time(1,000) of ``ctx.map`` over declared steps, concurrency 200, in memory (goal <= 12).

    Runs are interleaved (1,000, 10,000, 1,000, ...), k = ``cfg.k(3)``; each figure is the median.
    """
    small, big = cfg.n(1000, 6), cfg.n(10_000, 60)
    saved = batchchildren.CHILD_BATCH_ITEMS
    if cfg.quick:
        batchchildren.CHILD_BATCH_ITEMS = 20  # the smoke path goes through child batches too, at a tiny size
    runs: dict[int, list[tuple[float, float]]] = {small: [], big: []}
    try:
        map_once("memory", 3, {})  # warm-up
        for _ in range(cfg.k(3)):
            for n in (small, big):
                runs[n].append(map_once("memory", n, section.facts))
        t_moto = map_once("moto", big, section.facts)[0] if cfg.heavy else None
    finally:
        batchchildren.CHILD_BATCH_ITEMS = saved
    wall = {n: median([w for w, _ in r]) for n, r in runs.items()}
    cpu = {n: median([c for _, c in r]) for n, r in runs.items()}
    ratio = wall[big] / wall[small]
    section.rows.append(
        Row(f"ctx.map over {big:,} declared steps (concurrency 200), LocalCloud (in-memory), wall",
            fmt_seconds(wall[big]), f"{fmt_seconds(wall[small])} ({small:,} steps)", ratio,
            "time(10,000)/time(1,000) <= 12", ratio <= 12, ratio_text=f"{ratio:.1f}x")
    )
    cpu_ratio = cpu[big] / cpu[small]
    section.rows.append(
        Row("same, CPU time of the process", fmt_seconds(cpu[big]), f"{fmt_seconds(cpu[small])} ({small:,} steps)",
            cpu_ratio, "(context)", None, ratio_text=f"{cpu_ratio:.1f}x")
    )
    if t_moto is not None:
        section.rows.append(
            Row(f"ctx.map over {big:,} declared steps (concurrency 200), LocalCloud (moto)", fmt_seconds(t_moto),
                "n/a", None, "completes", bool(section.facts.get(f"map_moto_{big}_ok")))
        )
    f = section.facts
    section.notes.append(
        f"ctx.map over {big:,} declared steps ran in {f.get(f'map_memory_{big}_children')} child batches of at most "
        f"{saved if not cfg.quick else 20:,} items (runtime/batchchildren.py): the parent's journal held "
        f"{f.get(f'map_memory_{big}_parent_records')} records, the largest child's "
        f"{f.get(f'map_memory_{big}_max_child_records')} (limit {MAX_JOURNAL_RECORDS:,} per execution); a flat map "
        f"would need about {2 * big:,}. Lambda durable functions' map of {big:,} chained invokes is {2 * big + 1:,} "
        "operations (one CONTEXT per item, one CHAINED_INVOKE per item, one for the map; counted with the "
        f"testing runner at N=10 and 100: 21 and 201). Medians of {cfg.k(3)} interleaved runs; "
        f"wall times per run: {small:,}: {', '.join(fmt_seconds(w) for w, _ in runs[small])}; "
        f"{big:,}: {', '.join(fmt_seconds(w) for w, _ in runs[big])}."
    )


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
    moto_seconds = fan_once("moto", n, facts)  # once (about 7,400 moto calls at N=1,000)
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
        f"In-memory and anchor times are medians of {k} interleaved runs; the moto run is measured once. Every step "
        "result is one SQS message on the execution's FIFO group; LocalCloud delivers the queue's next batch after "
        "every 10 step invocations (``LocalCloud(step_burst=)``, as AWS runs steps and the orchestrator at the same "
        "time), so the group stays about 10 deep (moto's SendMessage/ReceiveMessage cost grows with queue depth)."
    )
    return section


def run_map(cfg: Config) -> Section:
    """Issue 17 goal 2 on its own (``python -m benchmarks --only map10k``): see :func:`map_scaling`."""
    section = Section("map10k", "4b. Fan-out: ctx.map over 10,000 declared steps (concurrency 200)")
    map_scaling(cfg, section)
    return section
