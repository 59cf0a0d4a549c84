"""Goal 3: scaling.

* Inline steps: time(2N) / time(N) for N = 1,000 and 10,000 (goal: <= 2.2), on the in-memory
  store and on LocalCloud (moto); the durable-functions runner's own ratio at N = 1,000 beside it.
* Declared steps (one suspension each): the DynamoDB read units one resume costs as the
  journal grows (goal: flat, i.e. a warm orchestrator reads only the new journal entries).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from benchmarks.anchors import durable_sdk
from benchmarks.common import Config, Row, Section, anchor_missing, fmt_seconds, interleave, local_cloud, median
from benchmarks.meter import AwsMeter, LambdaMeter
from benchmarks.workflows import build_app


def seq_seconds(backend: str, n: int) -> float:
    """One N-inline-step execution on a fresh, warmed LocalCloud."""
    app = build_app()
    with local_cloud(app, backend) as cloud:
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        start = time.perf_counter()
        result = client.start("seq", n, execution_id="seq").result()
        elapsed = time.perf_counter() - start
    if result != n:
        raise RuntimeError(f"seq({n}) on {backend} returned {result!r}")
    return elapsed


def doubling(k: int, n: int, run: Callable[[int], float]) -> tuple[float, float]:
    """Median seconds at N and 2N, interleaved."""
    times = interleave(k, [("n", lambda: run(n)), ("2n", lambda: run(2 * n))])
    return median(times["n"]), median(times["2n"])


def declared_resumes(n: int) -> dict[str, float]:
    """Run N sequential declared steps on LocalCloud (moto); what each orchestrator resume read."""
    app = build_app()
    meter = AwsMeter()
    lambdas = LambdaMeter()
    with local_cloud(app, "moto") as cloud, lambdas.installed(cloud, meter):
        meter.attach_cloud(cloud)
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        before, lam0 = meter.snapshot(), lambdas.snapshot()
        start = time.perf_counter()
        result = client.start("declared-seq", n, execution_id="declared").result()
        elapsed = time.perf_counter() - start
        run, lam = meter.snapshot() - before, lambdas.snapshot() - lam0
    if result != n:
        raise RuntimeError(f"declared-seq({n}) returned {result!r}")
    # A resume is an orchestrator invocation or a declared step's in-process answer (runtime/stepreply.py): each
    # goes on from the workflow's last suspension, reading only what is new.
    resumes = lam.invocations["orchestrator"] + lam.nested_runs["orchestrator/step"]
    return {
        "seconds": elapsed,
        "resumes": float(resumes),
        "query_rru_per_resume": run.rru["Query"] / resumes,
        "getitem_rru_per_resume": run.rru["GetItem"] / resumes,
        # (a warm resume's log read is a GetItem of the next log slot when nothing else wrote the log: the
        # flatness check counts every read unit, DynamoStore.load_journal_since(dense=True))
        "read_rru_per_resume": (run.rru["Query"] + run.rru["GetItem"]) / resumes,
        "getitems_per_resume": run.calls["DynamoDB.GetItem"] / resumes,
        "items_per_resume": run.items_read["Query"] / resumes,
        "queries": float(run.calls["DynamoDB.Query"]),
    }


def run(cfg: Config) -> Section:
    """Measure; see the module docstring."""
    section = Section("scaling", "3. Scaling")
    facts = section.facts
    k_mem, k_moto = cfg.k(5), cfg.k(3)
    sizes = [cfg.n(1000, 20), cfg.n(10_000, 40)]
    seq_seconds("memory", 10)  # warm-up

    for n in sizes:
        t1, t2 = doubling(k_mem, n, lambda m: seq_seconds("memory", m))
        ratio = t2 / t1
        section.rows.append(
            Row(f"inline, in-memory: time({2 * n:,}) / time({n:,})", f"{fmt_seconds(t2)} / {fmt_seconds(t1)}",
                "linear: 2.0x", ratio, "<= 2.2", ratio <= 2.2)
        )
        facts[f"memory_{n}_ok"] = True
    # Diagnosis: the same doubling at the larger N with CPython's cyclic GC off during the runs.
    n = sizes[1]
    gc.disable()
    try:
        t1, t2 = doubling(k_mem, n, lambda m: seq_seconds("memory", m))
    finally:
        gc.enable()
    section.rows.append(
        Row(f"inline, in-memory, cyclic GC off (diagnosis): time({2 * n:,}) / time({n:,})",
            f"{fmt_seconds(t2)} / {fmt_seconds(t1)}", "linear: 2.0x", t2 / t1, "(context)", None)
    )
    for n, k in ((sizes[0], k_moto), (sizes[1], 1)):
        t1, t2 = doubling(k, n, lambda m: seq_seconds("moto", m))
        ratio = t2 / t1
        section.rows.append(
            Row(f"inline, LocalCloud (moto): time({2 * n:,}) / time({n:,})", f"{fmt_seconds(t2)} / {fmt_seconds(t1)}",
                "linear: 2.0x", ratio, "<= 2.2", ratio <= 2.2)
        )
        facts[f"moto_{n}_ok"] = True
    if durable_sdk.available():
        n = sizes[0]
        h1, h2 = durable_sdk.seq_handler(n), durable_sdk.seq_handler(2 * n)
        times = interleave(cfg.k(1), [("n", lambda: durable_sdk.run_once(h1, expect=n)),
                                      ("2n", lambda: durable_sdk.run_once(h2, expect=2 * n))])
        d1, d2 = median(times["n"]), median(times["2n"])
        section.rows.append(
            Row(f"inline, durable-functions runner: time({2 * n:,}) / time({n:,})", "(anchor)",
                f"{fmt_seconds(d2)} / {fmt_seconds(d1)}", d2 / d1, "(context)", None)
        )
    else:
        section.notes.append(anchor_missing(durable_sdk.PIP))

    # ---- declared steps: read units per resume as N grows ------------------------------------
    ns = [cfg.n(v, q) for v, q in ((10, 2), (20, 4), (40, 8), (80, 16))]
    k_declared = cfg.k(3)
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in ns}
    for _ in range(k_declared):  # interleaved: every size once per round
        for n in ns:
            runs[n].append(declared_resumes(n))
    # Read units and calls are the same in every round; the time is the median of the rounds.
    results = {n: {**rs[0], "seconds": median([r["seconds"] for r in rs])} for n, rs in runs.items()}
    first, last = results[ns[0]], results[ns[-1]]
    growth = last["read_rru_per_resume"] / first["read_rru_per_resume"]
    section.rows.append(
        Row(f"declared steps: read units per resume (Query + GetItem), N={ns[-1]} vs N={ns[0]}",
            f"{last['read_rru_per_resume']:.3g} vs {first['read_rru_per_resume']:.3g} RRU "
            f"({last['items_per_resume']:.0f} vs {first['items_per_resume']:.0f} items)",
            "flat (reads only new entries)", growth, "~1x (flat)", growth <= 1.25)
    )
    t_ratio = results[ns[-1]]["seconds"] / results[ns[-2]]["seconds"]
    section.rows.append(
        Row(f"declared steps: time({ns[-1]}) / time({ns[-2]})",
            f"{fmt_seconds(results[ns[-1]]['seconds'])} / {fmt_seconds(results[ns[-2]]['seconds'])}",
            "linear: 2.0x", t_ratio, "<= 2.2", t_ratio <= 2.2)
    )
    section.tables.append((
        "Declared steps on LocalCloud (moto): what one orchestrator resume reads",
        ["N steps", "orchestrator resumes", "journal items read / resume", "journal Query RRU / resume",
         "GetItem calls / resume (headers + journal)", "GetItem RRU / resume", "time", "time / step"],
        [[str(n), f"{r['resumes']:.0f}", f"{r['items_per_resume']:.1f}", f"{r['query_rru_per_resume']:.2f}",
          f"{r['getitems_per_resume']:.2f}", f"{r['getitem_rru_per_resume']:.2f}", fmt_seconds(r["seconds"]),
          fmt_seconds(r["seconds"] / n)]
         for n, r in results.items()],
    ))
    facts["declared_resumes"] = {n: r["resumes"] for n, r in results.items()}
    section.notes.append(
        f"Inline: medians of {k_mem} (in-memory) / {k_moto} (moto, N={sizes[0]:,}) interleaved runs; moto at "
        f"N={sizes[1]:,} runs once; declared steps: medians of {k_declared} interleaved rounds. RRU are estimated "
        "from the item sizes read (strongly consistent 4 KB units, eventually consistent reads half)."
    )
    section.notes.append(
        "The orchestrator keeps each execution's journal while its process is warm "
        "(stepbridge/runtime/journalcache.py): a resume reads the orchestrator's ordered log past the last slot it "
        "knows (one range Query, empty unless another process wrote) and takes the step's result from its wake-up "
        "message, so the read units per resume stay flat. The first wake-up of an execution reads the whole journal; "
        "the replay itself still re-runs the workflow from the top (CPU grows with N)."
    )
    return section
