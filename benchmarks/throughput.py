"""Goal 5: throughput, N concurrent executions of a 5-step workflow with no loss, vs DBOS on SQLite.

stepbridge: N executions are started on a non-eager LocalCloud (N wake-up messages queued, as
a burst of starts would queue them in SQS), then the cloud runs until idle; every execution
must end SUCCEEDED with the right result, nothing dead-lettered or dropped. DBOS: N
``DBOS.start_workflow`` calls (DBOS runs them on threads, checkpointing to SQLite), then every
result. Throughput = N / (first start .. last result).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.anchors import dbos_app
from benchmarks.common import Config, Row, Section, anchor_missing, fmt_seconds, interleave, local_cloud, median
from benchmarks.meter import AwsMeter
from benchmarks.workflows import build_app


def stepbridge_burst(backend: str, n: int, facts: dict[str, Any]) -> float:
    """Start N executions at once on a fresh, warmed LocalCloud, drain it, check every one; returns seconds."""
    app = build_app()
    meter = AwsMeter()
    with local_cloud(app, backend, eager=False) as cloud:
        meter.attach_cloud(cloud)
        client = cloud.client()
        client.start("noop", execution_id="warm-up")
        cloud.run_until_idle()
        before = meter.snapshot()
        start = time.perf_counter()
        for i in range(n):
            client.start("five", i, execution_id=f"e{i}")
        cloud.run_until_idle()
        elapsed = time.perf_counter() - start
        calls = meter.snapshot() - before
        ok = 0
        for i in range(n):
            desc = client.describe(f"e{i}")
            ok += desc.status == "SUCCEEDED" and desc.result == i + 10
        lost = len(getattr(cloud, "failed_deliveries", [])) + len(cloud.dead_letters())
    facts[f"{backend}_n"] = n
    facts[f"{backend}_succeeded"] = ok
    facts[f"{backend}_lost"] = lost
    if backend == "moto":
        facts["moto_calls_per_execution"] = {op: v / n for op, v in sorted(calls.calls.items())}
        facts["moto_sqs_seconds"] = calls.total_seconds("SQS.")
        facts["moto_dynamodb_seconds"] = calls.total_seconds("DynamoDB.")
    if ok != n or lost:
        raise RuntimeError(f"throughput on {backend}: {ok}/{n} succeeded, {lost} lost")
    return elapsed


def run(cfg: Config) -> Section:
    """Measure and compare; see the module docstring."""
    n = cfg.n(1000, 20)
    n_moto = cfg.n(1000 if cfg.heavy else 200, 20)
    section = Section("throughput", f"5. Throughput: {n:,} concurrent executions of a 5-step workflow")
    facts = section.facts
    stepbridge_burst("memory", 10, {})  # warm-up
    with tempfile.TemporaryDirectory(prefix="sb-bench-dbos-") as tmp:
        runs = [("memory", lambda: stepbridge_burst("memory", n, facts))]
        anchor_ctx: dbos_app.DbosAnchor | None = None
        if dbos_app.available():
            anchor_ctx = dbos_app.DbosAnchor(str(Path(tmp) / "dbos.sqlite")).__enter__()
            anchor_ctx.run(min(n, 20))  # warm-up
            dbos_ok: list[int] = []

            def dbos_run() -> float:
                assert anchor_ctx is not None
                seconds, ok = anchor_ctx.run(n)
                dbos_ok.append(ok)
                return seconds

            runs.append(("dbos", dbos_run))
        else:
            section.notes.append(anchor_missing(dbos_app.PIP))
        k = cfg.k(3 if cfg.heavy else 2)
        try:
            times = interleave(k, runs)
        finally:
            if anchor_ctx is not None:
                anchor_ctx.__exit__(None, None, None)
    moto_seconds = stepbridge_burst("moto", n_moto, facts)
    anchor_rate = n / median(times["dbos"]) if "dbos" in times else None
    if "dbos" in times:
        facts["dbos_succeeded"] = min(dbos_ok)
    mem_rate = n / median(times["memory"])
    moto_rate = n_moto / moto_seconds
    for label, rate, count, lost_key, seconds in (
        ("LocalCloud (in-memory)", mem_rate, n, "memory", median(times["memory"])),
        ("LocalCloud (moto)", moto_rate, n_moto, "moto", moto_seconds),
    ):
        no_loss = facts.get(f"{lost_key}_succeeded") == count and facts.get(f"{lost_key}_lost") == 0
        section.rows.append(
            Row(f"executions/s, {count:,} concurrent, {label}", f"{rate:,.0f}/s ({fmt_seconds(seconds)}), "
                f"{facts.get(f'{lost_key}_succeeded')}/{count} ok",
                f"{anchor_rate:,.0f}/s (DBOS + SQLite, {n:,})" if anchor_rate else "n/a",
                rate / anchor_rate if anchor_rate else None, "no loss; report ratio", no_loss)
        )
    per = facts.get("moto_calls_per_execution", {})
    assert isinstance(per, dict)
    section.notes.append(
        "AWS calls per execution on moto: " + ", ".join(f"{v:.2f} {op}" for op, v in per.items())
        + f"; time inside moto: SQS {fmt_seconds(float(facts.get('moto_sqs_seconds', 0.0)))}, "
        f"DynamoDB {fmt_seconds(float(facts.get('moto_dynamodb_seconds', 0.0)))} "
        f"of {fmt_seconds(moto_seconds)}."
    )
    if not cfg.heavy and not cfg.quick:
        section.notes.append(
            f"The moto row uses {n_moto} executions: moto's SQS is O(queue depth) per call, so 1,000 queued starts "
            "take minutes there, which is moto's cost, not AWS's. "
            "`python -m benchmarks --only throughput --heavy` runs the full 1,000 on moto."
        )
    section.notes.append(
        f"Medians of {k} interleaved runs (in-memory vs DBOS), the moto run once. LocalCloud processes deliveries "
        "on one thread (Lambda would run many orchestrators in parallel); DBOS runs workflows on threads and "
        "checkpoints to SQLite. The in-memory store does no I/O at all, so that row is the engine's own "
        "throughput rather than a like-for-like durability comparison."
    )
    return section
