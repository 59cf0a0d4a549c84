"""The round trip of a lock handoff between two Python threads: what a sync step function's worker pays.

A sync step function runs in a worker thread (DESIGN.md; ``runtime/syncworker.py``: one lock release and one
acquire each way). On a virtual machine, waking a thread on an idle CPU can cost far more than the step's own
work; this measures it alone (benchmarks/RESULTS.md, "Session 7 close-out"), then the worker's own round trip
(``run_in_worker``) with and without pinning the two threads to one CPU for the handoff (RESULTS.md, "Session 9"):

    python -m benchmarks.handoff                 # as the machine is
    python3 -c "while True: pass" & python -m benchmarks.handoff; kill %1   # with the other core kept awake
"""

from __future__ import annotations

import argparse
import threading
import time

from stepbridge.runtime import syncworker

#: The second thread's name (a test checks it has ended).
WORKER_NAME = "benchmarks-handoff"


def round_trip_seconds(rounds: int) -> float:
    """Seconds per round trip: this thread hands a turn to a second thread and waits until it hands it back."""
    go, done = threading.Lock(), threading.Lock()
    go.acquire()
    done.acquire()

    def serve() -> None:
        for _ in range(rounds):
            go.acquire()
            done.release()

    worker = threading.Thread(target=serve, name=WORKER_NAME, daemon=True)
    worker.start()
    started = time.perf_counter()
    for _ in range(rounds):
        go.release()
        done.acquire()
    elapsed = time.perf_counter() - started
    worker.join()
    return elapsed / rounds


def worker_round_trip_seconds(rounds: int, colocate: bool) -> float:
    """Seconds per ``syncworker.run_in_worker`` call of a function that does nothing, with or without
    ``syncworker.COLOCATE`` (the caller and the worker pinned to one CPU for each handoff)."""
    saved = syncworker.COLOCATE
    syncworker.COLOCATE = colocate
    try:
        syncworker.run_in_worker(int)  # the worker exists before the clock starts
        started = time.perf_counter()
        for _ in range(rounds):
            syncworker.run_in_worker(int)
        return (time.perf_counter() - started) / rounds
    finally:
        syncworker.COLOCATE = saved


def main() -> None:
    """Print the median of a few measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    samples = sorted(round_trip_seconds(args.rounds) for _ in range(args.repeats))
    print(f"thread handoff round trip: {samples[len(samples) // 2] * 1e6:.1f} µs "
          f"(median of {args.repeats} x {args.rounds:,} round trips)")
    for colocate in (False, True):
        samples = sorted(worker_round_trip_seconds(args.rounds, colocate) for _ in range(args.repeats))
        how = "pinned to one CPU for the handoff" if colocate else "not pinned"
        print(f"run_in_worker round trip, {how}: {samples[len(samples) // 2] * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
