"""Large values (issue 14): the cost and time of a 5 MB step result against a 5 KB one.

``python -m benchmarks.payloads [--repeats K]``. One workflow: a declared step returns ``{"data": "x" * n}``,
the workflow sleeps one minute (so a second orchestrator invocation replays past the result) and returns
its length. Measured on LocalCloud with moto (the same adapters as on AWS, S3 included), per execution:

* AWS calls by operation, DynamoDB request units (``AwsMeter``: item sizes actually written and read),
  S3 requests and bytes stored;
* the Lambda work: invocations and their in-process seconds (``LambdaMeter``), priced at 1,024 MB arm64;
* wall time of the whole execution, the median of K runs.

Prices (us-east-1 list prices; ``benchmarks/RESULTS.md``, "Prices used"): DynamoDB on-demand $0.625 per
million WRU and $0.125 per million RRU; S3 Standard $0.005 per 1,000 PUT and $0.0004 per 1,000 GET
requests, $0.023 per GB-month (S3 pricing page, checked 2026-12); SQS FIFO $0.50 per million requests;
Scheduler $1.00 per million invocations; Lambda $0.20 per million requests and $0.0000133334 per
GB-second (arm64). In-process moto timings stand for the shape, not AWS's latencies (an S3 PUT of 5 MB
from Lambda takes roughly 50-150 ms on AWS; moto writes it to memory).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from typing import Any

from benchmarks.meter import AwsMeter, LambdaMeter
from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime import payloads

PRICES = {
    "wru": 0.625e-6, "rru": 0.125e-6, "s3_put": 0.005 / 1000, "s3_get": 0.0004 / 1000, "s3_gb_month": 0.023,
    "sqs": 0.50e-6, "scheduler": 1.0e-6, "lambda_request": 0.20e-6, "lambda_gb_s": 0.0000133334,
}
SIZES = {"5 KB": 5 * 1024, "5 MB": 5 * 1024 * 1024}


def build_app() -> App:
    app = App("bench-payloads")

    @app.step(timeout=60, memory=1024)
    def produce(n: int, salt: str) -> dict[str, Any]:
        return {"data": salt + "x" * (n - len(salt))}  # a different value each run: no object is reused

    @app.workflow("big")
    async def big(ctx: Context, job: dict[str, Any]) -> int:
        doc = await ctx.step("produce", produce, job["n"], job["salt"])
        await ctx.sleep(timedelta(minutes=1))
        return len(doc["data"])

    return app


def measure(size: int, repeats: int) -> dict[str, Any]:
    """One LocalCloud, one warm-up execution, then ``repeats`` timed executions of the workflow."""
    app = build_app()
    aws, lam = AwsMeter(), LambdaMeter()
    times: list[float] = []
    # In AWS the step's Lambda writes the object and the orchestrator, another container, reads it; one
    # process plays both here, so its copy of values is turned off: every replay reads from S3 (worst case).
    cache, payloads._CACHE_BYTES = payloads._CACHE_BYTES, 0
    with LocalCloud(app) as cloud, lam.installed(cloud, aws):
        aws.attach_cloud(cloud)
        aws.attach(cloud.blobs._s3)
        client = cloud.client()
        warm = client.start("big", {"n": size, "salt": "warm"}, execution_id="warm")
        cloud.advance(timedelta(minutes=2))
        warm.result()
        before, lam_before = aws.snapshot(), lam.snapshot()
        for i in range(repeats):
            start = time.perf_counter()
            h = client.start("big", {"n": size, "salt": f"run-{i}"}, execution_id=f"run-{i}")
            cloud.advance(timedelta(minutes=2))
            assert h.result() == size
            times.append(time.perf_counter() - start)
        run, lam_run = aws.snapshot() - before, lam.snapshot() - lam_before
    payloads._CACHE_BYTES = cache
    per = 1 / repeats
    calls = {op: n * per for op, n in run.calls.items()}
    lambda_s = sum(lam_run.seconds.values()) * per
    invocations = sum(lam_run.invocations.values()) * per
    stored = len(payloads.encode({"data": "x" * size})) if size > payloads.INLINE_VALUE_BYTES else 0
    cost = {
        "dynamodb": run.total_wru * per * PRICES["wru"] + run.total_rru * per * PRICES["rru"],
        "s3": calls.get("S3.PutObject", 0) * PRICES["s3_put"] + calls.get("S3.GetObject", 0) * PRICES["s3_get"],
        "s3_storage_month": stored / 1e9 * PRICES["s3_gb_month"],
        "queues_timers": sum(v for k, v in calls.items() if k.startswith("SQS.")) * PRICES["sqs"]
        + lam_run.scheduler_invocations * per * PRICES["scheduler"],
        "lambda": invocations * PRICES["lambda_request"] + lambda_s * 1.0 * PRICES["lambda_gb_s"],
    }
    return {
        "time_s": statistics.median(times),
        "wru": run.total_wru * per,
        "rru": run.total_rru * per,
        "s3_put": calls.get("S3.PutObject", 0),
        "s3_get": calls.get("S3.GetObject", 0),
        "lambda_s": lambda_s,
        "invocations": invocations,
        "cost": cost,
        "total": sum(v for k, v in cost.items() if k != "s3_storage_month"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.payloads", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows = {label: measure(n, args.repeats) for label, n in SIZES.items()}
    print("| step result | wall time per execution (moto, median) | Lambda in-process s | DynamoDB WRU / RRU |"
          " S3 PUT / GET | $ per million executions (requests) | + S3 storage $ per million per month |")
    print("|---|---|---|---|---|---|---|")
    for label, r in rows.items():
        print(f"| {label} | {r['time_s'] * 1000:.1f} ms | {r['lambda_s']:.3f} | {r['wru']:.1f} / {r['rru']:.1f} | "
              f"{r['s3_put']:.1f} / {r['s3_get']:.1f} | {r['total'] * 1e6:,.2f} | "
              f"{r['cost']['s3_storage_month'] * 1e6:,.2f} |")
    for label, r in rows.items():
        parts = ", ".join(f"{k} {v * 1e6:,.2f}" for k, v in r["cost"].items())
        print(f"\n{label}: per million executions: {parts}")


if __name__ == "__main__":
    main()
