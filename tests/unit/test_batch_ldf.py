"""LDF's completion defaults pinned beside ours (issue 14: "pin LDF's defaults in a test").

The anchor is the installed aws-durable-execution-sdk-python (``CompletionConfig`` and the
``CompletionPolicy`` its map/parallel coordinator uses). Where ours differs on purpose is in
docs/API.md, "Completion policies"; the decisions below are the same.
"""

from __future__ import annotations

import pytest

from stepbridge import Completion

config = pytest.importorskip("aws_durable_execution_sdk_python.config")
models = pytest.importorskip("aws_durable_execution_sdk_python.concurrency.models")


def _ldf(total: int, cfg: object, succeeded: int, failed: int) -> str | None:
    policy = models.CompletionPolicy.from_config(total, cfg)
    if policy.is_complete(succeeded, failed) or not policy.should_continue(failed):
        return str(policy.reason(succeeded, failed).value).lower()
    return None


def test_ldf_empty_config_is_fail_fast_and_so_is_ours() -> None:
    assert _ldf(5, config.CompletionConfig(), 3, 0) is None
    assert _ldf(5, config.CompletionConfig(), 0, 1) == "failure_tolerance_exceeded"
    assert Completion().decide(3, 0, 5) is None
    assert Completion().decide(0, 1, 5) == "failure_tolerance_exceeded"
    assert config.MapConfig().completion_config == config.CompletionConfig()  # LDF map's default: fail-fast
    assert config.ParallelConfig().completion_config == config.CompletionConfig.all_successful()


def test_ldf_min_successful_tolerates_failures_until_reached_and_so_does_ours() -> None:
    cfg = config.CompletionConfig(min_successful=2)
    for succeeded, failed in ((1, 0), (1, 3), (2, 0), (2, 5), (0, 4)):
        ours = Completion(min_successful=2).decide(succeeded, failed, 8)
        assert _ldf(8, cfg, succeeded, failed) == ours, (succeeded, failed)
    assert Completion(min_successful=2).decide(2, 0, 8) == "min_successful_reached"


@pytest.mark.parametrize(("pct", "total", "failed"), [(10, 10, 1), (10, 10, 2), (25, 8, 2), (25, 8, 3), (0, 3, 1),
                                                      (100, 4, 4), (33, 3, 1), (12.5, 8, 1)])
def test_ldf_tolerated_percentage_rounding_matches_ours(pct: float, total: int, failed: int) -> None:
    cfg = config.CompletionConfig(tolerated_failure_percentage=pct)
    ours = Completion(tolerated_failures=f"{pct}%").decide(0, failed, total)
    assert _ldf(total, cfg, 0, failed) == ours


def test_ldf_first_successful_and_all_completed_match_ours() -> None:
    for succeeded, failed in ((0, 2), (1, 0), (1, 3), (0, 4)):
        assert _ldf(4, config.CompletionConfig.first_successful(), succeeded, failed) == (
            Completion.first_successful().decide(succeeded, failed, 4)
        )
        assert _ldf(4, config.CompletionConfig.all_completed(), succeeded, failed) == (
            Completion.all_completed().decide(succeeded, failed, 4)
        )
