"""Per-step telemetry: X-Ray subsegments (when the tracer is available) and duration/status metrics."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.runtime import observability


class FakeSubsegment:
    def __init__(self, name: str, log: list[tuple[str, dict[str, str]]]) -> None:
        self.name, self.annotations = name, {}
        log.append((name, self.annotations))

    def put_annotation(self, key: str, value: str) -> None:
        self.annotations[key] = value


class FakeProvider:
    def __init__(self) -> None:
        self.segments: list[tuple[str, dict[str, str]]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str) -> Iterator[FakeSubsegment]:
        yield FakeSubsegment(name, self.segments)


class FakeTracer:
    def __init__(self) -> None:
        self.provider = FakeProvider()


@pytest.fixture
def fake_tracer(monkeypatch: pytest.MonkeyPatch) -> FakeTracer:
    tracer = FakeTracer()
    monkeypatch.setattr(observability, "tracer", lambda: tracer)
    return tracer


def test_each_step_attempt_gets_a_subsegment_and_metrics(fake_tracer: FakeTracer) -> None:
    app = App("tele")
    calls = {"n": 0}

    @app.step(timeout=10)
    def remote(x: int) -> int:
        return x * 2

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("once")
        return "ok"

    @app.workflow("traced")
    async def traced(ctx: Context) -> Any:
        return [
            await ctx.step("local", flaky, retry=Retry(max_attempts=2, jitter=False)),
            await ctx.step("remote", remote, 4),
        ]

    before = len(observability.recorded_metrics)
    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("traced", execution_id="t-1").result() == ["ok", 8]
    names = [name for name, _ in fake_tracer.provider.segments]
    assert names == ["## step local", "## step local", "## step remote"]
    assert all(notes["execution_id"] == "t-1" for _, notes in fake_tracer.provider.segments)
    metrics = [m for m in observability.recorded_metrics[before:] if m["name"].startswith("Step")]
    assert [m["name"] for m in metrics if m["name"] != "StepDuration"] == [
        "StepFailed",
        "StepSucceeded",
        "StepSucceeded",
    ]
    assert sum(1 for m in metrics if m["name"] == "StepDuration") == 3
    assert all(m["workflow"] == "traced" for m in metrics)


def test_without_the_xray_sdk_there_is_no_tracer() -> None:
    observability.tracer.cache_clear()
    try:
        import aws_xray_sdk  # noqa: F401
    except ImportError:
        assert observability.tracer() is None
    else:  # pragma: no cover - only where the SDK is installed
        assert observability.tracer() is not None
