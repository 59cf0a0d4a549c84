"""Goal 1: inline step overhead, N sequential steps in one workflow.

* in-memory store: per-step time vs the durable-functions local runner running the same
  N-step workflow (goal: at most 1/20 of it);
* LocalCloud on moto: per-step time vs one raw moto PutItem of the same journal item into the
  same table schema (goal: at most 1.5x), and the DynamoDB calls per step (goal: one write, no read).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.anchors import durable_sdk, moto_floor
from benchmarks.common import Config, Row, Section, anchor_missing, fmt_ratio, fmt_seconds, interleave, local_cloud
from benchmarks.common import median as med
from benchmarks.meter import AwsMeter, MeterSnapshot
from benchmarks.workflows import build_app


def stepbridge_seq(backend: str, n: int, facts: dict[str, Any], workflow: str = "seq") -> float:
    """A fresh LocalCloud (warmed by one empty execution, untimed), then time one N-step execution."""
    app = build_app()
    meter = AwsMeter()
    with local_cloud(app, backend) as cloud:
        meter.attach_cloud(cloud)
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        before = meter.snapshot()
        start = time.perf_counter()
        result = client.start(workflow, n, execution_id="seq").result()
        elapsed = time.perf_counter() - start
        after = meter.snapshot()
        # The same execution's fixed cost: an empty workflow, measured after (not timed).
        base0 = meter.snapshot()
        client.start("noop", execution_id="noop-2").result()
        base = meter.snapshot() - base0
    if result != n:
        raise RuntimeError(f"stepbridge seq({n}) on {backend} returned {result!r}")
    facts[f"{backend}_result_ok"] = True
    if backend == "moto":
        run = after - before
        facts["moto_calls"] = dict(run.calls)
        facts["moto_base_calls"] = dict(base.calls)
        _record_per_step(facts, run, base, n)
    return elapsed


def _record_per_step(facts: dict[str, Any], run: MeterSnapshot, base: MeterSnapshot, n: int) -> None:
    writes = run.calls["DynamoDB.PutItem"] - base.calls["DynamoDB.PutItem"]
    reads = sum(run.calls[f"DynamoDB.{op}"] - base.calls[f"DynamoDB.{op}"] for op in ("GetItem", "Query", "Scan"))
    facts["writes_per_step"] = writes / n
    facts["reads_per_step"] = reads / n
    facts["wru_per_step"] = (run.total_wru - base.total_wru) / n


def run(cfg: Config) -> Section:
    """Measure and compare; see the module docstring."""
    n = cfg.n(1000, 30)
    k = cfg.k(5)
    section = Section("inline", f"1. Inline step overhead ({n:,} sequential steps)")
    facts = section.facts

    # ---- in-memory store vs durable-functions local runner ----------------------------------
    runs = [
        ("stepbridge", lambda: stepbridge_seq("memory", n, facts)),
        ("async", lambda: stepbridge_seq("memory", n, {}, "seq-async")),
    ]
    if durable_sdk.available():
        handler = durable_sdk.seq_handler(n)
        durable_sdk.run_once(durable_sdk.seq_handler(5), expect=5)  # warm the anchor's imports
        runs.append(("durable", lambda: durable_sdk.run_once(handler, expect=n)))
    else:
        section.notes.append(anchor_missing(durable_sdk.PIP))
    stepbridge_seq("memory", 5, {})  # warm-up
    times = interleave(k, runs)
    sb = med(times["stepbridge"]) / n
    if "durable" in times:
        anchor = med(times["durable"]) / n
        ratio = sb / anchor
        section.rows.append(
            Row("per-step time, in-memory store", fmt_seconds(sb), f"{fmt_seconds(anchor)} (durable-functions runner)",
                ratio, "<= 1/20 (0.05x)", ratio <= 0.05)
        )
        facts["durable_ok"] = True
        sb_async = med(times["async"]) / n
        section.rows.append(
            Row("per-step time, in-memory store, `async def` step function (context)", fmt_seconds(sb_async),
                f"{fmt_seconds(anchor)} (durable-functions runner)", sb_async / anchor, "(context)", None)
        )
    else:
        section.rows.append(Row("per-step time, in-memory store", fmt_seconds(sb), "n/a", None, "<= 1/20", None))

    # ---- LocalCloud on moto vs the raw PutItem floor -----------------------------------------
    k_moto = cfg.k(3)
    moto_times = interleave(
        k_moto,
        [
            ("stepbridge", lambda: stepbridge_seq("moto", n, facts)),
            ("floor", lambda: moto_floor.put_item_seconds(n)),
        ],
    )
    sb_moto = med(moto_times["stepbridge"]) / n
    floor = med(moto_times["floor"]) / n
    ratio = sb_moto / floor
    section.rows.append(
        Row("per-step time, LocalCloud (moto DynamoDB)", fmt_seconds(sb_moto),
            f"{fmt_seconds(floor)} (one raw moto PutItem)", ratio, "<= 1.5x", ratio <= 1.5)
    )
    writes = float(facts.get("writes_per_step", 0.0))
    reads = float(facts.get("reads_per_step", 0.0))
    section.rows.append(
        Row("DynamoDB calls per inline step (marginal)", f"{writes:.3g} PutItem, {reads:.3g} reads",
            "1 PutItem, 0 reads (the floor)", writes, "1 write, 0 reads", abs(writes - 1) < 1e-9 and reads == 0,
            ratio_text=f"{writes:.3g}x writes")
    )
    base = facts.get("moto_base_calls", {})
    section.notes.append(
        f"Times are medians of {k} (in-memory) and {k_moto} (moto) interleaved runs; "
        f"per step = execution time / {n:,}. "
        f"The execution's fixed cost (an empty workflow: {_fmt_calls(base)}) is inside stepbridge's time; "
        "the anchor's time includes its own fixed per-invocation latency the same way."
    )
    section.notes.append(
        "The step function is a plain `def` (as in the anchor), which stepbridge runs in a worker thread, in "
        "AWS and in LocalCloud alike; the handoff to the thread and back is part of each step's time (in "
        "LocalCloud the loop thread and the worker are pinned to one CPU for the handoff: runtime/syncworker.py). An "
        "`async def` step function runs on the workflow's own loop (the context row)."
    )
    section.notes.append(
        "All figures: stepbridge "
        + ", ".join(fmt_seconds(v / n) for v in times["stepbridge"])
        + " per step in memory; moto "
        + ", ".join(fmt_seconds(v / n) for v in moto_times["stepbridge"])
        + "; floor "
        + ", ".join(fmt_seconds(v / n) for v in moto_times["floor"])
        + (("; durable " + ", ".join(fmt_seconds(v / n) for v in times["durable"])) if "durable" in times else "")
        + f" (ratio of medians {fmt_ratio(ratio)} on moto)."
    )
    return section


def _fmt_calls(calls: object) -> str:
    if not isinstance(calls, dict) or not calls:
        return "no calls"
    return ", ".join(f"{v} {k.split('.', 1)[1]}" for k, v in sorted(calls.items()))
