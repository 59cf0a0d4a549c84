"""ctx.poll (issue 14, item 2) on the memory backend: attempts as steps, durable sleeps with backoff, PollTimeout."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, PollTimeout
from stepbridge.local import LocalCloud

app = App("pollers")
READY_AT: dict[str, int] = {}
CALLS: list[tuple[str, Any]] = []


def export_status(state: dict[str, Any] | None) -> dict[str, Any]:
    n = (state or {}).get("n", 0) + 1
    CALLS.append(("check", state))
    return {"n": n, "status": "done" if n >= READY_AT["export"] else "pending"}


@app.step(timeout=10)
def remote_status(state: int) -> int:
    return state + 1


@app.workflow("export")
async def export(ctx: Context, ready_at: int) -> dict[str, Any]:
    READY_AT["export"] = ready_at
    try:
        return await ctx.poll("export-ready", export_status, every=timedelta(seconds=30), backoff=2,
                              max_every=timedelta(minutes=1), max_attempts=5,
                              until=lambda s: s["status"] == "done")
    except PollTimeout as exc:
        return {"gave_up": str(exc), "last": exc.state}


@app.workflow("declared-poll")
async def declared_poll(ctx: Context, target: int) -> int:
    return int(await ctx.poll("count", remote_status, initial=0, every=10, until=lambda s: s >= target))


@app.workflow("deadline-poll")
async def deadline_poll(ctx: Context, _: Any) -> Any:
    return await ctx.poll("never", lambda s: None, every=60, deadline=timedelta(minutes=3))


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    CALLS.clear()
    with LocalCloud(app, backend="memory") as c:
        yield c


def _sleeps(cloud: LocalCloud, execution_id: str) -> list[tuple[str, float]]:
    from stepbridge.runtime.records import parse_iso

    out = []
    for rec in sorted(cloud.store.load_journal(execution_id), key=lambda r: (r.seq, r.key)):
        if rec.type == "sleep" and rec.kind == "timer":
            seconds = (parse_iso(rec.data["wake_at"]) - parse_iso(rec.at)).total_seconds()
            out.append((rec.op, seconds))
    return out


def test_poll_checks_until_done_with_durable_backoff_capped_at_max_every(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("export", 4)
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(minutes=5))
    assert h.result() == {"n": 4, "status": "done"}
    # each attempt's input is the previous attempt's state
    assert [c[1] for c in CALLS] == [None, {"n": 1, "status": "pending"}, {"n": 2, "status": "pending"},
                                    {"n": 3, "status": "pending"}]
    # 30 s, then x2 = 60 s, then capped at max_every = 60 s
    assert _sleeps(cloud, h.execution_id) == [("export-ready-1-wait", 30.0), ("export-ready-2-wait", 60.0),
                                             ("export-ready-3-wait", 60.0)]
    ops = [r.op for r in cloud.store.load_journal(h.execution_id) if r.type == "step" and r.kind == "result"]
    assert sorted(ops) == ["export-ready-1", "export-ready-2", "export-ready-3", "export-ready-4"]


def test_poll_raises_poll_timeout_with_the_last_state_after_max_attempts(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("export", 99)
    cloud.advance(timedelta(hours=1))
    out = h.result()
    assert out["last"] == {"n": 5, "status": "pending"}
    assert "poll 'export-ready' was not done after 5 attempts" in out["gave_up"]
    assert len(CALLS) == 5 and len(_sleeps(cloud, h.execution_id)) == 4


def test_poll_with_a_declared_step_runs_each_attempt_in_its_lambda(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("declared-poll", 3)
    cloud.advance(timedelta(minutes=1))
    assert h.result() == 3
    assert cloud.calls["lambda.Invoke"] == 3  # one invoke of the step's function per attempt


def test_poll_deadline_stops_before_a_check_that_would_start_too_late(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("deadline-poll", None)
    cloud.advance(timedelta(minutes=10))
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.PollTimeout"
    assert "deadline of 180 s after 4 attempts" in desc.error["message"]


def test_bad_poll_arguments_fail_the_execution_naming_them(cloud: LocalCloud) -> None:
    bad = App("badpoll")

    @bad.workflow("w")
    async def w(ctx: Context, _: Any) -> Any:
        return await ctx.poll("p", lambda s: s, max_attempts=0)

    with LocalCloud(bad, backend="memory") as other:
        h = other.client().start("w", None)
        desc = other.client().describe(h.execution_id)
    assert desc.status == "FAILED" and "max_attempts must be a positive int, got 0" in desc.error["message"]
