"""The soak test: hundreds of executions of the example patterns under random, seeded faults.

Every execution must end as it does without faults (same terminal state, result and journal),
no step may be journaled twice, nothing may be left RUNNING. The figures are printed in the
test summary and recorded in docs/RELIABILITY.md; reproduce them with::

    .venv/bin/pytest tests/soak -q
    .venv/bin/python tests/soak/soak_harness.py --executions 600 --seed 20260105

Both runs of each test (without and with faults) use the same seeded workload.
"""

from __future__ import annotations

from typing import Any

import soak_harness as harness

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


def test_soak_memory_backend(soak_report: Any) -> None:
    figures = harness.soak(SEED, 600, "memory")
    soak_report(f"soak: 600 workload executions, memory backend, seed {SEED}", figures.lines())
    check(figures)
    assert figures.top_level >= 500
    assert all(count > 0 for count in figures.faults_injected.values()), "every fault kind was exercised"


def test_soak_moto_backend(soak_report: Any) -> None:
    figures = harness.soak(SEED, 60, "moto")
    soak_report(
        f"soak: 60 workload executions, moto backend (DynamoDB, SQS, Scheduler, EventBridge), seed {SEED}",
        figures.lines(),
    )
    check(figures)
    assert sum(figures.faults_injected.values()) > 20
