"""Goal 2: suspend and resume, a durable one-hour sleep then wake, vs the durable-functions runner's wait.

Both sides skip virtual time (LocalCloud's clock, the runner's ``SkipClock``), so what is measured
is the machinery: record the timer, suspend, fire, resume, finish. Reported end to end (start to
result of a workflow that only sleeps) and as the increment over a one-step workflow without a
sleep on the same side (the cost of the suspension alone).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.anchors import durable_sdk
from benchmarks.common import Config, Row, Section, anchor_missing, fmt_seconds, interleave, local_cloud, median
from benchmarks.meter import AwsMeter
from benchmarks.workflows import build_app


def stepbridge_pair(backend: str, facts: dict[str, Any]) -> tuple[float, float]:
    """(seconds of the sleeper, seconds of the one-step workflow) on a fresh, warmed LocalCloud."""
    app = build_app()
    meter = AwsMeter()
    with local_cloud(app, backend) as cloud:
        meter.attach_cloud(cloud)
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        before = meter.snapshot()
        t0 = time.perf_counter()
        woke = client.start("sleeper", execution_id="sleeper").result()
        t1 = time.perf_counter()
        sleeper = meter.snapshot() - before
        one = client.start("one-step", execution_id="one-step").result()
        t2 = time.perf_counter()
    if woke != "woke" or one != 1:
        raise RuntimeError(f"suspend benchmark on {backend}: unexpected results {woke!r}, {one!r}")
    facts[f"{backend}_woke"] = True
    if backend == "moto":
        facts["moto_calls"] = dict(meter.calls)
        facts["moto_sleeper_calls"] = dict(sleeper.calls)
        facts.setdefault("moto_sleeper_inside_moto", []).append(sleeper.total_seconds())
    return t1 - t0, t2 - t1


def run(cfg: Config) -> Section:
    """Measure and compare; see the module docstring."""
    k = cfg.k(5)
    section = Section("suspend", "2. Suspend and resume (durable sleep of 1 h, then wake)")
    facts = section.facts
    sb: dict[str, list[tuple[float, float]]] = {"memory": [], "moto": []}

    def sb_run(backend: str) -> float:
        pair = stepbridge_pair(backend, facts)
        sb[backend].append(pair)
        return pair[0]

    durable_pairs: list[tuple[float, float]] = []
    have_anchor = durable_sdk.available()

    def durable_run() -> float:
        sleep = durable_sdk.run_once(durable_sdk.sleeper_handler(), expect="woke")
        one = durable_sdk.run_once(durable_sdk.seq_handler(1), expect=1)
        durable_pairs.append((sleep, one))
        return sleep

    runs = [("memory", lambda: sb_run("memory")), ("moto", lambda: sb_run("moto"))]
    if have_anchor:
        durable_sdk.run_once(durable_sdk.seq_handler(1), expect=1)  # warm-up
        runs.append(("durable", durable_run))
    else:
        section.notes.append(anchor_missing(durable_sdk.PIP))
    stepbridge_pair("memory", {})  # warm-up
    interleave(k, runs)

    def e2e(pairs: list[tuple[float, float]]) -> float:
        return median([p[0] for p in pairs])

    def increment(pairs: list[tuple[float, float]]) -> float:
        return median([p[0] - p[1] for p in pairs])

    anchor_e2e = e2e(durable_pairs) if durable_pairs else None
    anchor_inc = increment(durable_pairs) if durable_pairs else None
    for backend, label in (("memory", "in-memory store"), ("moto", "LocalCloud (moto)")):
        for what, fn, anchor in (("sleep-then-wake execution, end to end", e2e, anchor_e2e),
                                 ("the suspension alone (sleeper minus one-step)", increment, anchor_inc)):
            value = fn(sb[backend])
            if anchor is None:
                section.rows.append(Row(f"{what}, {label}", fmt_seconds(value), "n/a", None, "<= 0.1x", None))
                continue
            ratio = value / anchor
            section.rows.append(
                Row(f"{what}, {label}", fmt_seconds(value), f"{fmt_seconds(anchor)} (durable-functions runner)",
                    ratio, "<= 0.1x (>= 10x faster)", ratio <= 0.1)
            )
    if durable_pairs:
        facts["durable_ok"] = True
    inside = median(facts.get("moto_sleeper_inside_moto", [0.0]))
    moto_e2e = e2e(sb["moto"])
    if anchor_e2e is not None:
        section.rows.append(
            Row("sleep-then-wake, LocalCloud (moto), time outside moto calls", fmt_seconds(moto_e2e - inside),
                f"{fmt_seconds(anchor_e2e)} (durable-functions runner)", (moto_e2e - inside) / anchor_e2e,
                "(context)", None)
        )
    calls = facts.get("moto_sleeper_calls", {})
    section.notes.append(
        f"The moto sleeper execution spends {fmt_seconds(inside)} of {fmt_seconds(moto_e2e)} inside moto, in "
        + f"{sum(calls.values())} AWS calls: " + ", ".join(f"{v} {name}" for name, v in sorted(calls.items()))
        + " (the client's start and result reads included; the event source mappings' receives and deletes"
        " are made on moto's SQS backend in-process, stepbridge/local/servicequeues.py, and counted here)."
    )
    section.notes.append(
        f"Medians of {k} interleaved runs, each on a fresh LocalCloud / a fresh runner (set-up not timed). "
        "The durable-functions runner spends about 0.1 s per invocation in the SDK's checkpoint thread "
        "shutdown poll (aws_durable_execution_sdk_python/state.py, _STOP_SIGNAL_POLL_SECONDS = 0.1); a wait "
        "adds one invocation, so its increment is that poll."
    )
    return section
