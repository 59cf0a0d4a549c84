"""The soak test: hundreds of executions of the example patterns under random, seeded faults.

Every execution must end as it does without faults (same terminal state, result and journal),
no step may be journaled twice, nothing may be left RUNNING. The figures are printed in the
test summary and recorded in docs/RELIABILITY.md; reproduce them with::

    .venv/bin/pytest tests/soak -q
    .venv/bin/python tests/soak/soak_harness.py --executions 600 --seed 20260105

Both runs of each test (without and with faults) use the same seeded workload.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import soak_harness as harness

from stepbridge.local.faults import FaultPlan

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

#: The seed of the figures in docs/RELIABILITY.md.
SEED = 20260105


def check(figures: harness.Figures) -> None:
    assert figures.lost == []
    assert figures.wrong_outcome == []
    assert figures.journal_mismatch == []
    assert figures.duplicated_journal_entries == 0
    assert figures.missing_side_effects == [] and figures.unexpected_side_effects == []
    assert figures.lost_events == []
    assert figures.baseline_swept == 0  # without faults the sweeper never has to wake anything
    assert figures.ok


def retries_exhausted(figures: harness.Figures) -> set[str]:
    """Executions that failed with ``StepTimeout`` where the fault-free run succeeded: a step's attempts were
    all lost (each waited out its deadline) under the harsh fault rates."""
    return {w.split(":")[0] for w in figures.wrong_outcome if " FAILED " in w and "errors.StepTimeout !=" in w}


def without(figures: harness.Figures, executions: set[str]) -> harness.Figures:
    """``figures`` with what those executions (and their children) did or missed left out."""

    def theirs(item: str) -> bool:
        return any(item == e or item.startswith((f"{e}:", f"{e}.", f"{e} ")) or f":{e}:" in item
                   or f":{e}." in item for e in executions)

    return dataclasses.replace(
        figures,
        wrong_outcome=[w for w in figures.wrong_outcome if not theirs(w)],
        journal_mismatch=[j for j in figures.journal_mismatch if not theirs(j)],
        missing_side_effects=[m for m in figures.missing_side_effects if not theirs(m)],
        lost_events=[e for e in figures.lost_events if not any(x in e for x in executions)],
    )


def test_soak_memory_backend(soak_report: Any) -> None:
    figures = harness.soak(SEED, 600, "memory")
    soak_report(f"soak: 600 workload executions, memory backend, seed {SEED}", figures.lines())
    check(figures)
    assert figures.top_level >= 500
    assert sum(figures.faults_injected.values()) > 500


def test_soak_moto_backend(soak_report: Any) -> None:
    figures = harness.soak(SEED, 60, "moto")
    soak_report(
        f"soak: 60 workload executions, moto backend (DynamoDB, SQS, Scheduler, EventBridge), seed {SEED}",
        figures.lines(),
    )
    check(figures)
    assert sum(figures.faults_injected.values()) > 20


@pytest.mark.parametrize("containers", [1, 3])
def test_soak_memory_backend_harsh_faults(soak_report: Any, containers: int) -> None:
    """Harsher: every fault kind at 4 % per opportunity; with three orchestrator containers resumes land
    on them at random, each with its own journal cache (a crash empties its container's), so a copy is
    often behind what another container wrote and must catch up from the log.

    This run also checks that every fault kind was injected (at the realistic rates of the run above a
    rare kind, such as a throttled EventBridge publish, may draw no fault for a given seed).
    """
    rates = FaultPlan.uniform(SEED, 0.04).rates
    figures = harness.soak(SEED, 200, "memory", rates=rates, containers=containers)
    exhausted = retries_exhausted(figures)
    soak_report(
        f"soak: 200 workload executions, memory backend, all faults at 4 %, {containers} orchestrator "
        f"container(s), seed {SEED}",
        [*figures.lines(), f"executions whose step used up its attempts under the faults: {sorted(exhausted)}"],
    )
    # At 4 % per opportunity about 44 % of declared-step dispatches lose their attempt to some injected fault
    # (an orchestrator crash after the dispatch record, an ambiguous write, a throttled invoke or timer, a
    # crashed step container, a throttled read in the step): each such attempt waits out its deadline and
    # counts against the step's retry policy, so now and then a step uses up all its attempts and the
    # execution fails with ``StepTimeout``, a correct outcome of its policy. Which execution that is depends
    # on where the seeded faults land (session 6: campaign-120, ten attempts of `send-1`, each lost to a
    # different fault). Such executions are allowed here, at most 1 %; everything else is checked as above.
    assert len(exhausted) <= max(1, figures.top_level // 100), exhausted
    check(without(figures, exhausted))
    assert figures.top_level >= 150
    assert all(count > 0 for count in figures.faults_injected.values()), "every fault kind was exercised"


def test_memory_backend_runs_are_reproducible_bit_for_bit() -> None:
    """The same seed gives the same final table and events here and in a process with another
    ``PYTHONHASHSEED`` and another allocation history (ids come from a seeded source; nothing
    iterates a set of futures or strings in an order that depends on hashes or memory addresses)."""
    here = harness.soak(18, 30, "memory", rates=FaultPlan.uniform(18, 0.10).rates, containers=3)
    code = (
        "import soak_harness as h; from stepbridge.local.faults import FaultPlan; "
        "print(h.soak(18, 30, 'memory', rates=FaultPlan.uniform(18, 0.10).rates, containers=3).digest)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert here.digest and out.stdout.strip().splitlines()[-1] == here.digest


@pytest.mark.parametrize("containers", [1, 3])
def test_liveness_soak_every_fault_kind_at_10_percent(soak_report: Any, containers: int) -> None:
    """The fast configuration of ``python -m tests.soak.run`` (issue 13's target is seeds 1-40 at 150
    executions): every fault kind at 10 %, faults stop at the horizon, and once the sweeper had its recovery
    bound nothing is lost or stuck and no operation is journaled twice. (An execution may end differently from
    the fault-free run - a step whose ten attempts all drew a fault fails with StepTimeout - but it ends, and
    its error names the cause: the liveness check verifies that.)"""
    import run as runner

    # seeds 3 and 8: at 30 executions they draw every kind on 1 and 3 containers, sticky executions on and off
    # (EventBridge throttling is the rarest: only ctx.send and progress publish). The fault stream follows the
    # calls made: since declared steps answer in-process (runtime/stepreply.py) seeds 3-4 draw no EventBridge
    # throttling on 3 containers with sticky executions off (every pair of seeds 1-8 was tried: 14 of 28 qualify).
    results = [runner.one_run(seed, 0.10, containers, 30, "memory") for seed in (3, 8)]
    soak_report(f"liveness soak: seeds 3 and 8, 30 executions, all faults at 10 %, {containers} container(s)",
                runner.summarize(results, sum(r["seconds"] for r in results)))
    assert sum(sum(r["faults"].values()) for r in results) > 500
    assert all(sum(r["faults"][k] for r in results) > 0 for k in results[0]["faults"]), "every kind was injected"
    for r in results:
        assert r["lost"] == [] and r["stuck"] == []
        assert r["duplicated"] == 0
