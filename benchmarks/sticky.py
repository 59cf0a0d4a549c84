"""Issue 17 goal 1: sticky executions (runtime/sticky.py), each figure sticky on against sticky off in one run.

* Resume time against history: an execution with N recorded steps wakes from a sleep and parks at
  the next one; the time of that one wake-up for N=1,000 against N=10.
* A 1,000-way gather over declared steps, in memory and on moto (time inside moto shown apart).
* Affinity: the share of wake-ups that found their execution parked in the container they landed
  on (hit rate) and the time per wake-up, for k = 1, 4 and 16 warm orchestrator containers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import Config, Row, Section, fmt_seconds, virtual_start
from benchmarks.meter import AwsMeter
from stepbridge import App, Context
from stepbridge.local import LocalCloud

#: Sleeps after the recorded steps: the first wake-up warms the container, the others are measured.
NAPS = 6


def sticky_app() -> App:
    """The workflows measured here."""
    app = App("stickybench")

    async def inc(x: int) -> int:
        return x + 1

    def remote_inc(x: int) -> int:
        return x + 1

    remote = app.step(timeout=30)(remote_inc)

    @app.workflow("history")
    async def history(ctx: Context, n: int) -> int:
        x = 0
        for i in range(n):
            x = await ctx.step(f"s{i}", inc, x)
        for j in range(NAPS):
            await ctx.sleep(60, name=f"nap{j}")
        return x

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> int:
        return sum(await ctx.gather(*[ctx.step(f"f{i}", remote, i) for i in range(n)]))

    @app.workflow("chain")
    async def chain(ctx: Context, n: int) -> int:
        x = 0
        for i in range(n):
            x = await ctx.step(f"d{i}", remote, x)
        return x

    return app


def cloud(backend: str, sticky: bool, **kw: Any) -> LocalCloud:
    return LocalCloud(sticky_app(), backend=backend, start=virtual_start(), sticky=sticky, **kw)


def resume_time(backend: str, n: int, sticky: bool) -> float:
    """Median time of one wake-up (a sleep passed, the next one begins) of an execution with ``n`` steps."""
    with cloud(backend, sticky) as c:
        client = c.client()
        client.start("history", n, execution_id="h")
        c.advance(60)  # the first wake-up (a replay on a cold cache in both modes)
        times = []
        for _ in range(NAPS - 2):
            started = time.perf_counter()
            c.advance(60)
            times.append(time.perf_counter() - started)
        c.advance(60)
        if client.describe("h").result != n:
            raise RuntimeError(f"history({n}) ended {client.describe('h').status}")
    return statistics.median(times)


def fan_time(backend: str, n: int, sticky: bool, facts: dict[str, Any]) -> float:
    """Wall time of a gather over ``n`` declared steps (start to result)."""
    meter = AwsMeter()
    with cloud(backend, sticky) as c:
        if backend == "moto":
            meter.attach_cloud(c)
        before = meter.snapshot()
        started, cpu = time.perf_counter(), time.process_time()
        result = c.client().start("fan", n, execution_id="fan").result()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        calls = meter.snapshot() - before
        stats = c.orchestrator_caches[0].stats
    if result != sum(range(1, n + 1)):
        raise RuntimeError(f"fan({n}) returned {result!r}")
    if backend == "moto":
        facts["moto_seconds"] = calls.total_seconds("")
        facts["moto_by_service"] = {
            svc: calls.total_seconds(f"{svc}.") for svc in ("DynamoDB", "SQS", "Scheduler", "EventBridge")
        }
        facts["moto_calls"] = sum(calls.calls.values())
    facts[f"{backend}_{sticky}_resumed"] = stats["resumed"]
    # CPU time of this process (all threads): on a shared machine it leaves out the time others held the CPU.
    cpu_runs = facts.setdefault(f"{backend}_{sticky}_cpu", [])
    assert isinstance(cpu_runs, list)
    cpu_runs.append(cpu)
    return elapsed


def affinity(k: int, executions: int, steps: int, sticky: bool) -> tuple[float, float, int]:
    """(hit rate, seconds per orchestrator wake-up, wake-ups) of ``executions`` chains of ``steps`` declared steps
    spread over ``k`` containers at random (the queue's batches land anywhere, as on Lambda)."""
    with cloud("memory", sticky, orchestrator_containers=k, container_seed=7, eager=False) as c:
        client = c.client()
        for e in range(executions):
            client.start("chain", steps, execution_id=f"c{e}")
        started = time.perf_counter()
        c.run_until_idle()
        elapsed = time.perf_counter() - started
        for e in range(executions):
            if client.describe(f"c{e}").result != steps:
                raise RuntimeError(f"chain c{e} did not finish")
        caches = c.orchestrator_caches
        resumed = sum(cache.stats["resumed"] for cache in caches)
        wakes = sum(cache.stats["hits"] + cache.stats["misses"] for cache in caches)
    return resumed / max(1, wakes), elapsed / max(1, wakes), wakes


def _interleaved(k: int, runs: dict[str, Callable[[], float]]) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(k):
        for name, fn in runs.items():
            times[name].append(fn())
    return {name: statistics.median(v) for name, v in times.items()}


def run(cfg: Config) -> Section:
    """Measure; see the module docstring."""
    section = Section("sticky", "8. Sticky executions (issue 17 goal 1): sticky on against sticky off, one run")
    facts = section.facts
    small, big = 10, cfg.n(1000, 50)
    k = cfg.k(3)
    resume = _interleaved(k, {
        f"{mode}-{n}": (lambda n=n, on=on: resume_time("memory", n, on))
        for n in (small, big) for mode, on in (("on", True), ("off", False))
    })
    for mode in ("on", "off"):
        ratio = resume[f"{mode}-{big}"] / resume[f"{mode}-{small}"]
        section.rows.append(Row(
            f"resume time, {big:,} recorded steps against {small}, in-memory, sticky {mode}",
            f"{fmt_seconds(resume[f'{mode}-{big}'])} / {fmt_seconds(resume[f'{mode}-{small}'])}",
            "same workflow, N=10", ratio, "<= 1.5x" if mode == "on" else "(context)",
            ratio <= 1.5 if mode == "on" else None,
        ))
    n = cfg.n(1000, 20)
    fan = _interleaved(k, {
        "on": lambda: fan_time("memory", n, True, facts),
        "off": lambda: fan_time("memory", n, False, facts),
    })
    section.rows.append(Row(f"gather over {n:,} declared steps, in-memory, sticky on", fmt_seconds(fan["on"]),
                            f"{fmt_seconds(fan['off'])} (sticky off)", fan["on"] / fan["off"], "<= 0.5 s",
                            fan["on"] <= 0.5))
    cpu_on, cpu_off = statistics.median(facts["memory_True_cpu"]), statistics.median(facts["memory_False_cpu"])
    section.rows.append(Row("same, CPU time of the process", fmt_seconds(cpu_on),
                            f"{fmt_seconds(cpu_off)} (sticky off)", cpu_on / cpu_off, "(context)", None))
    moto = fan_time("moto", n, True, facts)
    inside = float(facts.get("moto_seconds", 0.0))
    section.rows.append(Row(f"gather over {n:,} declared steps, LocalCloud (moto), sticky on", fmt_seconds(moto),
                            f"time inside moto: {fmt_seconds(inside)}; outside: {fmt_seconds(moto - inside)}",
                            None, "<= 10 s", moto <= 10.0))
    by_service = facts.get("moto_by_service", {})
    assert isinstance(by_service, dict)
    section.notes.append(
        f"moto run: {facts.get('moto_calls')} AWS calls; time inside moto by service: "
        + ", ".join(f"{svc} {fmt_seconds(v)}" for svc, v in by_service.items() if v)
    )
    rows = []
    executions, steps = cfg.n(40, 4), cfg.n(20, 3)
    for containers in (1, 4, 16):
        hit, per_wake, wakes = affinity(containers, executions, steps, True)
        _, per_wake_off, _ = affinity(containers, executions, steps, False)
        rows.append([str(containers), f"{hit:.0%}", f"1/{containers} = {1 / containers:.0%}", str(wakes),
                     fmt_seconds(per_wake), fmt_seconds(per_wake_off)])
        facts[f"hit_rate_k{containers}"] = hit
    section.tables.append((
        f"Affinity: {executions} executions of {steps} declared steps each over k containers (in-memory)",
        ["k", "wake-ups that found the execution parked", "expected without affinity", "wake-ups",
         "time per wake-up, sticky on", "time per wake-up, sticky off"],
        rows,
    ))
    section.notes.append(
        "Resume time: median of the middle wake-ups of an execution that sleeps 6 times after its N recorded inline "
        f"steps ({k} interleaved runs of each). Gather: median of {k} interleaved runs; moto once."
    )
    return section
