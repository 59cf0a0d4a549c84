"""Powertools Logger and Metrics, created lazily so importing the runtime stays cheap (cold starts)."""

from __future__ import annotations

import functools
import os
from typing import Any


@functools.lru_cache(maxsize=1)
def logger() -> Any:
    """The shared Powertools ``Logger`` (service name from ``POWERTOOLS_SERVICE_NAME``)."""
    from aws_lambda_powertools import Logger

    return Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepbridge"))


@functools.lru_cache(maxsize=1)
def metrics() -> Any:
    """The shared Powertools ``Metrics`` (namespace from ``POWERTOOLS_METRICS_NAMESPACE``)."""
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "stepbridge"))


def add_metric(name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
    """Add one metric; flushed as EMF by the handler at the end of the invocation."""
    from aws_lambda_powertools.metrics import MetricUnit

    try:
        metric_unit = MetricUnit(unit)
    except ValueError:
        metric_unit = MetricUnit.Count
    recorded_metrics.append({"name": name, "value": value, "unit": metric_unit.value, **dimensions})
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    if dimensions:
        from aws_lambda_powertools.metrics import single_metric

        namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "stepbridge")
        with single_metric(name=name, unit=metric_unit, value=value, namespace=namespace) as metric:
            for key, val in dimensions.items():
                metric.add_dimension(name=key, value=str(val))
        return
    metrics().add_metric(name=name, unit=metric_unit, value=value)
    _pending[0] += 1


def flush_metrics() -> None:
    """Write buffered metrics (EMF to stdout) — called at the end of each handler invocation."""
    if not _pending[0]:
        return
    _pending[0] = 0
    metrics().flush_metrics()


_pending = [0]


#: Every metric added in this process (LocalCloud and tests read it).
recorded_metrics: list[dict[str, Any]] = []
