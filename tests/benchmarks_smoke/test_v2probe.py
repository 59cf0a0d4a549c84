"""``python -m benchmarks.v2probe`` (the engine's before/after probe, RESULTS.md "Engine v2: before/after"):
its process order alternates the commits, its summary compares medians against the first commit, and one
measuring process runs in a checkout (this one, twice, so the summary has a baseline and a change)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import v2probe  # noqa: E402


def test_each_cycle_runs_every_commit_early_and_late() -> None:
    assert v2probe.order(2, 2) == [0, 1, 1, 0, 0, 1, 1, 0]
    assert v2probe.order(3, 1) == [0, 1, 2, 2, 1, 0]


def test_summary_gives_medians_and_the_change_against_the_first_commit() -> None:
    samples = {
        0: {"row": [[1.0, 0.010], [3.0, 0.030], [2.0, 0.020]]},
        1: {"row": [[1.1, 0.011], [2.2, 0.022], [3.3, 0.033]]},
    }
    table = v2probe.summary(samples, ["before", "after"])
    assert "| row | 2.000 s / 20.000 ms | 2.200 s / 22.000 ms | +10.0% / +10.0% | 3 |" in table


def test_the_probe_measures_in_a_checkout_and_summarizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rounds.jsonl"
    v2probe.main(["--commit-dir", str(ROOT), "--commit-dir", str(ROOT), "--set", "smoke", "--cycles", "1",
                  "--out", str(out)])
    rounds = out.read_text().splitlines()
    assert len(rounds) == 4  # A B B A
    table = capsys.readouterr().out
    assert "| inline, in-memory, 3 steps |" in table and "| 2 |" in table
