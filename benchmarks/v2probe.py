"""Before/after probe of sections 1-3 (``--only inline,suspend,scaling``) across commits, in interleaved processes.

Not part of ``python -m benchmarks`` (RESULTS.md, "Engine v2: before/after"). On a machine shared with other
work, one run of the sections moves by far more than the 5 % the engine's performance line allows; this
probe measures the stepbridge side of each row (no anchors: a before/after of stepbridge needs none) in
fresh processes, alternating the commits (A B B A ...), and records process CPU time next to wall time
(CPU time is what other processes disturb least). Each process runs the worker below with its cwd and
``PYTHONPATH`` at one checkout, so it uses that checkout's ``stepbridge`` and its own ``benchmarks.common``
and ``benchmarks.workflows`` (the same workflows at d91800b and since), timing the region sections 1-3 time:
one execution on a fresh LocalCloud warmed by one empty execution.

    python -m benchmarks.v2probe --commit-dir /work/wt/perf-before --commit-dir . --cycles 3
    python -m benchmarks.v2probe --commit-dir A_DIR --commit-dir B_DIR --set sleeper --env STEPBRIDGE_STICKY=0

``--set rows`` (default) measures every row once per process; ``--set sleeper`` the in-memory
sleep-then-wake 30 times per process; ``--set async`` the in-memory inline rows 5 times per process;
``--set scaling`` the in-memory scaling rows N=10,000 and 20,000 once per process; ``--set smoke`` three
steps (the tests' check that the probe runs).
Raw rounds go to ``--out`` (JSON lines); the summary prints medians of wall and CPU per row and commit.
``--env V2PROBE_GC_OFF=1`` (a diagnostic) turns the cyclic collector off in every measuring process.
``--env V2PROBE_NO_TEARDOWN_COLLECT=1`` (a diagnostic) makes ``gc.collect`` a no-op in the measuring process:
from issue 17 until session 6 ``LocalCloud.stop()`` ran a full collection, after which the next cloud's first
execution paid for fresh memory (about +0.1 ms on the in-memory sleeper, which no other row noticed); parked
workflows are now freed by reference counting and ``stop()`` no longer collects.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: The measuring process, run with ``python -c`` inside a checkout (only APIs both commits have).
WORKER = r'''
import gc, json, os, sys, time
if os.environ.get("V2PROBE_GC_OFF"):
    gc.disable()  # diagnostic: no cyclic collection anywhere in the measuring process
if os.environ.get("V2PROBE_NO_TEARDOWN_COLLECT"):
    gc.collect = lambda generation=2: 0  # diagnostic: LocalCloud.stop()'s full collection skipped
from benchmarks.common import local_cloud
from benchmarks.workflows import build_app

def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - w0, time.process_time() - c0

def seq(backend, n, workflow="seq"):
    with local_cloud(build_app(), backend) as cloud:
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        result, wall, cpu = timed(lambda: client.start(workflow, n, execution_id="seq").result())
    assert result == n, result
    return [wall, cpu]

def sleeper(backend):
    with local_cloud(build_app(), backend) as cloud:
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        woke, wall, cpu = timed(lambda: client.start("sleeper", execution_id="sleeper").result())
        one, wall1, cpu1 = timed(lambda: client.start("one-step", execution_id="one-step").result())
    assert woke == "woke" and one == 1
    return [wall, cpu], [wall - wall1, cpu - cpu1]

def declared(n):
    with local_cloud(build_app(), "moto") as cloud:
        client = cloud.client()
        client.start("noop", execution_id="warm-up").result()
        result, wall, cpu = timed(lambda: client.start("declared-seq", n, execution_id="declared").result())
    assert result == n
    return [wall, cpu]

def per_step(sample, n):
    return [sample[0] / n, sample[1] / n]

def rows():
    out = {}
    seq("memory", 5)  # warm-up, as benchmarks/inline.py does
    out["inline, in-memory, per step"] = [per_step(seq("memory", 1000), 1000)]
    out["inline, in-memory, async step fn, per step"] = [per_step(seq("memory", 1000, "seq-async"), 1000)]
    out["inline, moto, per step"] = [per_step(seq("moto", 1000), 1000)]
    for backend in ("memory", "moto"):
        name = "in-memory" if backend == "memory" else backend
        whole, alone = sleeper(backend)
        out[f"sleep-then-wake, {name}"], out[f"suspension alone, {name}"] = [whole], [alone]
    for n in (1000, 2000, 10000, 20000):
        out[f"scaling: inline, in-memory, N={n:,}"] = [seq("memory", n)]
    for n in (1000, 2000):
        out[f"scaling: inline, moto, N={n:,}"] = [seq("moto", n)]
    for n in (40, 80):
        out[f"scaling: declared steps, moto, N={n}"] = [declared(n)]
    return out

def sleepers():
    out = {"sleep-then-wake, in-memory": [], "suspension alone, in-memory": []}
    for _ in range(30):
        whole, alone = sleeper("memory")
        out["sleep-then-wake, in-memory"].append(whole)
        out["suspension alone, in-memory"].append(alone)
    return out

def inline_rows():
    out = {"inline, in-memory, per step": [], "inline, in-memory, async step fn, per step": []}
    seq("memory", 5)
    for _ in range(5):
        out["inline, in-memory, per step"].append(per_step(seq("memory", 1000), 1000))
        out["inline, in-memory, async step fn, per step"].append(per_step(seq("memory", 1000, "seq-async"), 1000))
    return out

def scaling_rows():
    out = {}
    seq("memory", 5)
    for n in (10000, 20000):
        out[f"scaling: inline, in-memory, N={n:,}"] = [seq("memory", n)]
    return out

def smoke():
    return {"inline, in-memory, 3 steps": [seq("memory", 3)]}

sets = {"rows": rows, "sleeper": sleepers, "async": inline_rows, "scaling": scaling_rows, "smoke": smoke}
print(json.dumps(sets[sys.argv[1]]()))
'''


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.v2probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit-dir", action="append", required=True, metavar="DIR",
                        help="a checkout to measure (repeat: the first is the baseline)")
    parser.add_argument("--set", default="rows", choices=("rows", "sleeper", "async", "scaling", "smoke"),
                        help="what each process measures")
    parser.add_argument("--cycles", type=int, default=3, help="cycles of A B .. B A (2 processes per commit each)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    parser.add_argument("--nice", type=int, default=0, help="run the processes at this niceness")
    parser.add_argument("--out", type=Path, help="append each process's figures here (JSON lines)")
    return parser.parse_args(argv)


def measure(directory: Path, what: str, env: dict[str, str], nice: int) -> dict[str, list[list[float]]]:
    """One process of the worker in ``directory``: its rows, each a list of [wall, cpu] samples."""
    cmd = [sys.executable, "-c", WORKER, what]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    full_env = {**os.environ, **env, "PYTHONPATH": str(directory)}
    done = subprocess.run(cmd, cwd=directory, env=full_env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the probe failed in {directory}:\n{done.stderr[-2000:]}")
    result: dict[str, list[list[float]]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def order(count: int, cycles: int) -> list[int]:
    """A B .. B A per cycle: each commit runs as often early as late in a cycle."""
    forward = list(range(count))
    return [i for _ in range(cycles) for i in (*forward, *reversed(forward))]


def summary(samples: dict[int, dict[str, list[list[float]]]], labels: list[str]) -> str:
    """Medians per row and commit, wall and CPU, and each commit's change against the first."""
    lines = ["| row | " + " | ".join(f"{label} (wall / CPU)" for label in labels) + " | change, wall / CPU | samples |",
             "|---|" + "---|" * (len(labels) + 2)]
    for row in samples[0]:
        medians = [(statistics.median(s[0] for s in samples[i][row]), statistics.median(s[1] for s in samples[i][row]))
                   for i in range(len(labels))]
        base = medians[0]
        changes = " ; ".join(f"{m[0] / base[0] - 1:+.1%} / {m[1] / base[1] - 1:+.1%}" for m in medians[1:])
        cells = " | ".join(f"{_fmt(m[0])} / {_fmt(m[1])}" for m in medians)
        lines.append(f"| {row} | {cells} | {changes} | {len(samples[0][row])} |")
    return "\n".join(lines)


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the interleaved processes and print the medians."""
    args = parse_args(argv)
    dirs = [Path(d).resolve() for d in args.commit_dir]
    env = dict(item.split("=", 1) for item in args.env)
    samples: dict[int, dict[str, list[list[float]]]] = {i: {} for i in range(len(dirs))}
    for step, index in enumerate(order(len(dirs), args.cycles)):
        figures = measure(dirs[index], args.set, env, args.nice)
        for row, values in figures.items():
            samples[index].setdefault(row, []).extend(values)
        if args.out is not None:
            with args.out.open("a") as out:
                out.write(json.dumps({"dir": str(dirs[index]), "set": args.set, "env": env, "data": figures}) + "\n")
        print(f"process {step + 1}: {dirs[index]}", file=sys.stderr, flush=True)
    print(summary(samples, [d.name for d in dirs]))


if __name__ == "__main__":
    main()
