"""Powertools Logger and Metrics, created lazily so importing the runtime stays cheap (cold starts)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
from collections.abc import Iterator
from typing import Any


@functools.lru_cache(maxsize=1)
def logger() -> Any:
    """The shared Powertools ``Logger`` (service name from ``POWERTOOLS_SERVICE_NAME``), with secrets redacted."""
    from aws_lambda_powertools import Logger

    log = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepbridge"))
    log.addFilter(RedactSecrets())
    return log


#: Log fields whose value is never written (compared case-insensitively, ``-`` and ``_`` alike).
SECRET_FIELDS = frozenset(
    {
        "secret",
        "webhook_secret",
        "password",
        "token",
        "access_token",
        "id_token",
        "api_key",
        "authorization",
        "signature",
        "stripe_signature",
        "x_signature",
        "cookie",
    }
)
REDACTED = "***"
#: Secret values this container has read (webhook secrets from SSM): redacted wherever they appear.
_known_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Never log ``value``: the log filter replaces it with ``***`` in messages, fields and tracebacks."""
    if value and len(value) >= 6:  # very short values would redact ordinary words
        _known_secrets.add(value)


def _redact_text(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact(value: object, depth: int = 0) -> object:
    if isinstance(value, str):
        return _redact_text(value)
    if depth > 4:
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_field(k) else _redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, depth + 1) for v in value]
    return value


def _is_secret_field(name: object) -> bool:
    return isinstance(name, str) and name.lower().replace("-", "_") in SECRET_FIELDS


class RedactSecrets(logging.Filter):
    """Redact secret fields (``authorization``, ``signature``, ``password`` ...) and known secret values.

    Cheap by design: field names are compared against :data:`SECRET_FIELDS`; values against the
    secrets this container actually read (:func:`register_secret`), not guessed with patterns.
    """

    _STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redact_text(record.msg)
        for key, value in list(record.__dict__.items()):
            if key in self._STANDARD:
                continue
            record.__dict__[key] = REDACTED if _is_secret_field(key) else _redact(value)
        if record.exc_info and _known_secrets:
            value = record.exc_info[1]
            if value is not None and any(_redact(str(a)) != str(a) for a in value.args):
                value.args = tuple(_redact(a) for a in value.args)
        return True


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
    sink = _metric_sink.get()
    if sink is not None:  # LocalCloud (or a test) is recording: keep it there, not in a process-wide list
        entry = {"name": name, "value": value, "unit": metric_unit.value, **dimensions}
        sink.append(entry)
        recorded_metrics.append(entry)
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


#: Where :func:`add_metric` also records metrics (``LocalCloud.metrics``, set by :func:`recording_metrics`).
_metric_sink: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "stepbridge_metric_sink", default=None
)


@contextlib.contextmanager
def recording_metrics(sink: list[dict[str, object]]) -> Iterator[None]:
    """Record every metric added in this context (and the step threads it starts) into ``sink``."""
    token = _metric_sink.set(sink)
    try:
        yield
    finally:
        _metric_sink.reset(token)


#: Every metric recorded by any LocalCloud in this process (kept for older tests; prefer
#: ``LocalCloud.metrics``, which holds only that cloud's). Nothing is kept outside a recording,
#: so a warm Lambda process does not accumulate metrics.
recorded_metrics: list[dict[str, Any]] = []


# ---- per-step telemetry ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def tracer() -> Any:
    """Powertools ``Tracer`` when the X-Ray SDK is installed (``aws-lambda-powertools[tracer]``), else ``None``."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true":
        return None
    try:
        import aws_xray_sdk  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: F401  (Tracer needs it)
        from aws_lambda_powertools import Tracer
    except ImportError:
        return None
    return Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepbridge"))


class StepTelemetry:
    """Around one step attempt: an X-Ray subsegment (when tracing is available) and duration/status metrics.

    Metrics carry only the ``workflow`` dimension (step names would make one CloudWatch metric
    per step per app: cardinality is what CloudWatch bills for).
    """

    def __init__(self, workflow: str, step: str, execution_id: str) -> None:
        self.workflow, self.step, self.execution_id = workflow, step, execution_id
        self._segment: Any = None
        self._started = 0.0

    def __enter__(self) -> StepTelemetry:
        import time

        self._started = time.perf_counter()
        trace = tracer()
        if trace is not None:
            self._segment = trace.provider.in_subsegment(f"## step {self.step}")
            sub = self._segment.__enter__()
            sub.put_annotation("execution_id", self.execution_id)
            sub.put_annotation("step", self.step)
        return self

    def __exit__(self, exc_type: Any, exc: object, tb: object) -> None:
        import time

        failed = exc_type is not None and issubclass(exc_type, Exception)
        add_metric(
            "StepDuration",
            round((time.perf_counter() - self._started) * 1000, 3),
            "Milliseconds",
            workflow=self.workflow,
        )
        add_metric("StepFailed" if failed else "StepSucceeded", 1, workflow=self.workflow)
        if self._segment is not None:
            self._segment.__exit__(exc_type, exc, tb)
