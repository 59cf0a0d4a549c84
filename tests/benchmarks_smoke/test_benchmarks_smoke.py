"""Smoke runs of every benchmark section at tiny sizes (``--quick``): correctness only, never timing.

Each section must produce its rows, get the right workflow results, make AWS calls (> 0) where
it measures them, and lose no execution. The optional anchors (durable-functions runner, DBOS)
run too when installed; without them the sections still pass and say which pip command is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import coldstart, cost, fanout, inline, scaling, sticky, suspend, throughput  # noqa: E402
from benchmarks.anchors import dbos_app, durable_sdk  # noqa: E402
from benchmarks.common import Config, Section  # noqa: E402

QUICK = Config(quick=True, repeats=1)


def _check_rows(section: Section) -> None:
    assert section.rows, f"section {section.name} produced no rows"
    for row in section.rows:
        assert row.metric and row.stepbridge
        assert row.verdict() in ("met", "MISSED", "not evaluated")


def _anchor_note(section: Section, available: bool, pip: str) -> None:
    missing = f"anchor not installed: {pip}"
    assert (missing in section.notes) is not available


def test_inline_section() -> None:
    section = inline.run(QUICK)
    _check_rows(section)
    facts = section.facts
    assert facts["memory_result_ok"] and facts["moto_result_ok"]
    assert facts["writes_per_step"] == pytest.approx(1.0)  # one journal write per inline step
    assert facts["reads_per_step"] == 0
    assert facts["moto_calls"]["DynamoDB.PutItem"] > 0
    _anchor_note(section, durable_sdk.available(), durable_sdk.PIP)
    assert bool(facts.get("durable_ok")) is durable_sdk.available()


def test_suspend_section() -> None:
    section = suspend.run(QUICK)
    _check_rows(section)
    assert section.facts["memory_woke"] and section.facts["moto_woke"]
    calls = section.facts["moto_calls"]
    assert calls["Scheduler.CreateSchedule"] >= 1  # the sleep became a Scheduler timer
    assert calls["SQS.SendMessage"] > 0
    # The sleeper's calls are the floor (RESULTS.md, "AWS calls per operation"): no idle receives, no client
    # read while it sleeps, header and journal in one Query, the warm wake-up's log probe one GetItem (issue 17).
    # The meter sees the event source mappings' calls too.
    assert section.facts["moto_sleeper_calls"] == {
        "DynamoDB.PutItem": 3, "DynamoDB.GetItem": 3, "DynamoDB.Query": 1, "SQS.SendMessage": 2,
        "SQS.ReceiveMessage": 2, "SQS.DeleteMessage": 2, "Scheduler.CreateSchedule": 1,
    }
    _anchor_note(section, durable_sdk.available(), durable_sdk.PIP)


def test_scaling_section() -> None:
    section = scaling.run(QUICK)
    _check_rows(section)
    facts = section.facts
    assert all(v is True for k, v in facts.items() if k.endswith("_ok"))
    # one orchestrator resume per declared step, plus the start
    assert all(resumes == n + 1 for n, resumes in facts["declared_resumes"].items())


def test_fanout_section() -> None:
    section = fanout.run(QUICK)
    _check_rows(section)
    facts = section.facts
    n = 12
    for backend in ("memory", "moto"):
        assert facts[f"{backend}_ok"]
        assert facts[f"{backend}_lost"] == 0
        assert facts[f"{backend}_step_invocations"] == n
        assert facts[f"{backend}_lambda_invoke_calls"] == n
    # The dispatches of one invocation share a deadline timer: the first one's own and the shared one
    # (runtime/stepcover.py), not one per step.
    assert facts["moto_calls"]["Scheduler.CreateSchedule"] == 2
    assert sum(facts["moto_calls"].values()) > 0


def test_map10k_section() -> None:
    section = fanout.run_map(QUICK)
    _check_rows(section)
    facts = section.facts
    # ctx.map over 60 declared steps in child batches of 20 (the quick path of issue 17 goal 2)
    assert facts["map_memory_60_ok"] and facts["map_memory_60_children"] == 3
    assert facts["map_memory_60_invokes"] == 60
    assert facts["map_memory_60_max_child_records"] < 3 * 20 + 10


def test_throughput_section() -> None:
    section = throughput.run(QUICK)
    _check_rows(section)
    facts = section.facts
    for backend in ("memory", "moto"):
        assert facts[f"{backend}_succeeded"] == facts[f"{backend}_n"]
        assert facts[f"{backend}_lost"] == 0
    assert all(row.met for row in section.rows)  # "no loss" is the goal of both rows
    if dbos_app.available():
        assert facts["dbos_succeeded"] == 20
    _anchor_note(section, dbos_app.available(), dbos_app.PIP)


def test_coldstart_section() -> None:
    section = coldstart.run(QUICK)
    _check_rows(section)
    facts = section.facts
    assert facts["handler_imports_boto3"] is False  # boto3 stays lazy until the first message
    assert facts["bundle_bytes"] > 0
    assert all(count == 1 for count in facts["probes"].values())


def test_cost_section() -> None:
    section = cost.run(QUICK)
    _check_rows(section)
    facts = section.facts
    assert facts["meter_matches_counters"]  # the botocore hooks see what stepbridge's counters see
    assert facts["inline step_aws_calls"] == pytest.approx(1.0)
    assert facts["cost_model_matches_meter"]  # `stepbridge cost` predicts the calls the meter counts
    for name in ("inline step", "declared step", "sleep (durable timer)", "wait_for + matching event",
                 "child workflow (start + result)", "schedule firing"):
        assert facts[f"{name}_per_million"] > 0


def test_sticky_section() -> None:
    section = sticky.run(QUICK)
    _check_rows(section)
    facts = section.facts
    assert facts["memory_True_resumed"] > 0 and facts["memory_False_resumed"] == 0  # parked only when sticky
    assert facts["moto_calls"] > 0
    assert facts["hit_rate_k1"] > facts["hit_rate_k16"]  # a wake-up finds its container about 1/k of the time


def test_cli_selects_sections_and_renders_markdown() -> None:
    assert cli.selected([]) == list(cli.SECTIONS)
    assert cli.selected(["cost,inline"]) == ["inline", "cost"]
    with pytest.raises(SystemExit):
        cli.selected(["nope"])
    lines: list[str] = []
    sections = cli.run(QUICK, ["coldstart"], markdown=True, out=lines.append)
    assert sections[0].name == "coldstart"
    text = "\n".join(lines)
    assert "| metric | stepbridge | anchor | ratio | goal | verdict |" in text
    assert "goals missed" in text


def test_sections_run_without_the_optional_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable_sdk, "available", lambda: False)
    monkeypatch.setattr(dbos_app, "available", lambda: False)
    section = suspend.run(QUICK)
    assert f"anchor not installed: {durable_sdk.PIP}" in section.notes
    assert all(row.ratio is None and row.met is None for row in section.rows)
    section = throughput.run(QUICK)
    assert f"anchor not installed: {dbos_app.PIP}" in section.notes
    assert all(row.met for row in section.rows)  # no loss is still checked
