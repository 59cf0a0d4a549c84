"""Journals written by the engine before its v2 refactor (issue 16) replay unchanged with today's engine.

The fixtures under tests/fixtures/journals/ were recorded once from main at d91800b by
tests/fixtures/record_journals.py, running the workflows of tests/fixtures/journal_app.py: every
operation and record kind (inline and declared steps with retries, failure, timeout and the
at-most-once marker; sleep, sleep_until; wait_for with event, timeout, default and look-back; child
and start_child; send; progress; patched; saga compensation; map/gather; continue_as_new; step and
workflow cache hits; cancellation plain and with compensation; a state machine; a schedule; a
debounced trigger). Each holds the whole table as DynamoDB attribute maps. Four stopped mid-flight: executions
suspended at a sleep, at wait_for, in a declared step's retry backoff and on a sleeping child.

NEVER REGENERATE THESE FIXTURES to make this test pass (and never edit journal_app.py's existing
workflows): they are the proof that the stored format and the replay behaviour did not change. A
failure here means the refactor changed behaviour; fix the code. Only ``replay_once`` below may be
adapted when the engine's entry point changes its signature.

For every fixture:
* every stored item decodes and encodes back to the same attribute map (same bytes in the table), except that
  a body field added by a later feature may appear with its empty default (``custom_status: null`` since
  ``ctx.set_status``), and a cancelled header gains the top-level ``cancel`` attribute that mirrors its body's
  ``cancel_requested`` (read by ``Store.glance_execution``): additions, never changes, of the format;
* every finished execution, replayed once from its journal into a fresh store, ends with the status,
  result and error its header holds, writes no journal record, has no effect (no invoke, wake-up,
  timer or event) and raises no non-determinism error;
* a wake-up of a finished execution (a plain cancel is finished without any replay) changes nothing;
* every execution suspended in a mid-flight fixture replays to a suspension and writes nothing;
* a mid-flight fixture resumed on a fresh LocalCloud (its timers re-armed, then the recorded events
  and clock moves) ends with exactly the recorded headers' outcomes and journals.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURE_DIR))

import journal_app  # noqa: E402
from journal_fixtures import (  # noqa: E402
    Attrs,
    Fixture,
    all_fixtures,
    as_recorded,
    execution_ids,
    header,
    journal_of,
    journal_records,
    load_items,
    outcome_of,
    reencoded,
    resume,
    resumed_cloud,
    table_items,
)

from stepbridge.infra.memory import InMemoryStore  # noqa: E402
from stepbridge.runtime import engine  # noqa: E402
from stepbridge.runtime.execution_ids import next_generation_id  # noqa: E402
from stepbridge.runtime.orchestrator import Orchestrator  # noqa: E402
from stepbridge.runtime.records import (  # noqa: E402
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    Event,
    ExecutionRecord,
    JournalRecord,
    StepInvocation,
    WakeMessage,
    parse_iso,
)

FIXTURES = {path.stem: Fixture.load(path) for path in all_fixtures()}
MIDFLIGHT = sorted(name for name, f in FIXTURES.items() if f.resume)


class RecordingEffects:
    """Effects that only record: a replay of a recorded journal must leave the process with nothing."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self.calls: list[tuple[str, Any]] = []

    def now(self) -> datetime:
        return self._now

    def wake(self, message: WakeMessage) -> None:
        self.calls.append(("wake", message.to_dict()))

    def invoke_step(self, invocation: StepInvocation) -> None:
        self.calls.append(("invoke_step", invocation.to_dict()))

    def schedule_timer(self, name: str, at: datetime, message: WakeMessage) -> None:
        self.calls.append(("schedule_timer", name))

    def cancel_timer(self, name: str) -> None:
        self.calls.append(("cancel_timer", name))

    def publish(self, events: Sequence[Event]) -> None:
        self.calls.append(("publish", [e.detail_type for e in events]))


def replay_once(
    execution: ExecutionRecord, journal: list[JournalRecord], store: InMemoryStore, effects: RecordingEffects
) -> engine.Outcome:
    """One replay of ``execution`` by today's engine (the one call to adapt if its entry point changes)."""
    return engine.run(journal_app.app, execution, journal, store, effects)


def _as_recorded(items: list[Attrs], recorded: list[Attrs]) -> list[Attrs]:
    """``items`` (same keys and order as ``recorded``) without body fields added since, still at their defaults."""
    return (
        [as_recorded(now, then) for now, then in zip(items, recorded, strict=True)]
        if len(items) == len(recorded)
        else items
    )


def _fresh_store(fixture: Fixture) -> InMemoryStore:
    store = InMemoryStore(clock=lambda: parse_iso(fixture.now))
    load_items(store, fixture.items)
    return store


def test_the_fixture_set_covers_every_record_kind() -> None:
    kinds = {(r["type"], r["kind"]) for f in FIXTURES.values() for e in f.expected.values() for r in e["journal"]}
    expected = {
        ("step", "result"), ("step", "error"), ("step", "attempt"), ("step", "dispatch"), ("step", "retry"),
        ("step", "started"), ("sleep", "timer"), ("wait", "wait"), ("wait", "result"), ("wait", "timeout"),
        ("child", "dispatch"), ("child", "result"), ("send", "sent"), ("now", "now"), ("progress", "progress"),
        ("patch", "patch"), ("cache", "result"), ("ack", "announce"),
    }  # fmt: skip
    assert expected <= kinds, expected - kinds
    assert len(FIXTURES) >= 20
    assert MIDFLIGHT == ["child-midflight", "declared-midflight", "sleep-midflight", "wait-midflight"]
    statuses = {e["status"] for f in FIXTURES.values() for e in f.expected.values()}
    assert statuses == {SUCCEEDED, FAILED, CANCELLED}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_stored_item_keeps_its_format(name: str) -> None:
    fixture = FIXTURES[name]
    changed = [a["pk"]["S"] + " " + a["sk"]["S"] for a in fixture.items if as_recorded(reencoded(a), a) != a]
    assert changed == []
    store = _fresh_store(fixture)
    assert _as_recorded(table_items(store), fixture.items) == fixture.items  # through the Store port, byte for byte


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_a_recorded_journal_replays_to_its_outcome_writing_nothing(name: str) -> None:
    fixture = FIXTURES[name]
    for execution_id in execution_ids(fixture.items):
        execution = header(fixture.items, execution_id)
        if execution.cancel_requested and not execution.cancel_compensate:
            continue  # the orchestrator ends a plain cancel without a replay (the test below)
        store = _fresh_store(fixture)
        before = journal_of(store, execution_id)
        effects = RecordingEffects(parse_iso(fixture.now))
        outcome = replay_once(execution, journal_records(fixture.items, execution_id), store, effects)
        where = f"{name}: {execution_id}"
        assert journal_of(store, execution_id) == before, f"{where}: the replay wrote journal records"
        assert effects.calls == [], f"{where}: the replay had effects {effects.calls}"
        if execution.status not in TERMINAL:
            assert execution.status == RUNNING and outcome.kind == engine.SUSPENDED, (where, outcome)
            continue
        _assert_same_outcome(where, execution, outcome)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_a_wake_up_of_a_finished_execution_changes_nothing(name: str) -> None:
    fixture = FIXTURES[name]
    finished = [e for e in execution_ids(fixture.items) if header(fixture.items, e).status in TERMINAL]
    store = _fresh_store(fixture)
    effects = RecordingEffects(parse_iso(fixture.now))
    orchestrator = Orchestrator(journal_app.app, store, effects)
    for execution_id in finished:
        orchestrator.handle(WakeMessage(execution_id, "sweep", f"fixture:{execution_id}", receives=2))
    assert _as_recorded(table_items(store), fixture.items) == fixture.items
    assert effects.calls == [] and orchestrator.stats["replays"] == 0


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _same_ids(value: object) -> object:
    """``value`` with each random id (an event's id, from LocalCloud's seeded source) renamed by first appearance:
    which ids the cloud drew is not the engine's behaviour, and the sequence shifts whenever LocalCloud draws
    one more id elsewhere; where the same id recurs is kept."""
    text = json.dumps(value, sort_keys=True)
    names: dict[str, str] = {}
    return json.loads(_UUID.sub(lambda m: names.setdefault(m.group(0), f"id-{len(names)}"), text))


def _assert_same_outcome(where: str, execution: ExecutionRecord, outcome: engine.Outcome) -> None:
    error = outcome.error or {}
    assert "NonDeterminism" not in str(error.get("type")), f"{where}: {error}"
    if execution.status == SUCCEEDED and outcome.kind == engine.CONTINUED:
        assert execution.result == {"continued_as_new": next_generation_id(execution.execution_id)}, where
        return
    expected_kind = {SUCCEEDED: engine.SUCCEEDED, FAILED: engine.FAILED, CANCELLED: engine.CANCELLED}[execution.status]
    assert outcome.kind == expected_kind, (where, outcome.kind, outcome.error)
    if execution.status == SUCCEEDED:
        assert outcome.result == execution.result, where
    else:
        assert execution.error is not None
        assert (error.get("type"), error.get("message")) == (execution.error["type"], execution.error["message"]), where


@pytest.mark.parametrize("name", MIDFLIGHT)
def test_a_midflight_journal_resumes_to_the_recorded_end(name: str) -> None:
    fixture = FIXTURES[name]
    suspended = [e for e in execution_ids(fixture.items) if header(fixture.items, e).status == RUNNING]
    assert suspended, f"{name} holds no suspended execution"
    cloud = resumed_cloud(journal_app.app, fixture)
    try:
        resume(cloud, fixture.resume)
        ended = {e: outcome_of(cloud.store, e) for e in execution_ids(table_items(cloud.store))}
    finally:
        cloud.stop()
    assert sorted(ended) == sorted(fixture.expected)
    for execution_id, expected in fixture.expected.items():
        assert _same_ids(ended[execution_id]) == _same_ids(expected), f"{name}: {execution_id} ended differently"
    assert all(ended[e]["status"] == SUCCEEDED for e in suspended)
