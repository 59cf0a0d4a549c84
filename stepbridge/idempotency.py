"""Powertools idempotency on the app's own table, for side effects inside steps.

Steps are at-least-once: an attempt that crashed after its side effect but before its result was
journaled runs again. When the external system takes an idempotency key, pass it
``stepbridge.step_context().idempotency_key``. When it does not, record the effect yourself with
`Powertools' idempotency utility
<https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/>`_ - this module
points it at the stepbridge table so no extra table, IAM statement or template change is needed::

    from stepbridge import step_context
    from stepbridge.idempotency import idempotent

    @idempotent(data_keyword_argument="key")          # one record per key, kept for an hour
    def send_invoice(*, key: str, order: dict) -> dict:
        return billing.send(order)                      # runs once per key, even if the step re-runs

    @app.step(timeout=30)
    def invoice(order: dict) -> dict:
        return send_invoice(key=step_context().idempotency_key, order=order)

The records live in the single table beside stepbridge's own items: partition key ``pk`` =
``IDEMPOTENCY#<app>`` (a prefix stepbridge never uses), sort key ``sk`` = Powertools' hashed key,
expiry in the table's TTL attribute ``ttl``. A declared step's role may already get, put and update
items; the compiled template also lets it delete items, but only in ``IDEMPOTENCY#`` partitions
(``dynamodb:LeadingKeys``): Powertools deletes its record when the function raises, so that a
retry runs it again.

What Powertools gives and what it cannot: a call whose result was saved returns the saved result
without running again (the common case: the step crashed after the effect, before stepbridge
journaled it). A call that crashed *during* the effect leaves an in-progress record; the retry
then raises ``IdempotencyAlreadyInProgressError`` until the record expires - the effect may or
may not have happened, exactly as with ``@app.step(at_most_once=True)``.

Works in LocalCloud with the moto backend (the default), which sets ``STEPBRIDGE_TABLE``; the
memory backend has no DynamoDB table.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from stepbridge.config import ENV_TABLE
from stepbridge.runtime import keys, stepcontext

F = TypeVar("F", bound=Callable[..., Any])

#: Partition key prefix of the idempotency records (stepbridge's own items never use it).
PK_PREFIX = keys.IDEMPOTENCY_PREFIX
#: The table's TTL attribute (see docs/ARCHITECTURE.md): expired records are deleted by DynamoDB.
TTL_ATTRIBUTE = "ttl"


def persistence_layer(table_name: str | None = None, *, namespace: str | None = None, client: Any = None) -> Any:
    """A Powertools ``DynamoDBPersistenceLayer`` on the app's table (``STEPBRIDGE_TABLE`` by default).

    ``namespace`` (default ``POWERTOOLS_SERVICE_NAME``, the app name in the template) keeps the
    records of different apps sharing a table apart.
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    table = table_name or os.environ.get(ENV_TABLE)
    if not table:
        raise RuntimeError(
            f"no table for idempotency records: {ENV_TABLE} is not set (deployed functions have it; "
            "LocalCloud's moto backend sets it) - or pass table_name="
        )
    ns = namespace or os.environ.get("POWERTOOLS_SERVICE_NAME") or "stepbridge"
    return DynamoDBPersistenceLayer(
        table_name=table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=keys.idempotency_pk(ns),
        expiry_attr=TTL_ATTRIBUTE,
        boto3_client=client,
    )


def idempotent(
    fn: F | None = None,
    *,
    data_keyword_argument: str = "key",
    expires_after: timedelta = timedelta(hours=1),
    table_name: str | None = None,
) -> Any:
    """Powertools ``idempotent_function`` on the app's table, built on first call.

    The wrapped function must be called with ``data_keyword_argument`` as a keyword (its value is
    hashed into the key: pass ``step_context().idempotency_key``, or a dict that identifies the
    effect). The persistence layer is created at the first call, inside the running step, so
    importing the module needs neither AWS credentials nor the table.
    """

    def decorate(func: F) -> F:
        built: dict[str, Callable[..., Any]] = {}
        configs: dict[str, Any] = {}

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            table = table_name or os.environ.get(ENV_TABLE) or ""
            if table not in built:
                from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

                config = IdempotencyConfig(expires_after_seconds=int(expires_after.total_seconds()))
                configs[table] = config
                built[table] = idempotent_function(
                    data_keyword_argument=data_keyword_argument,
                    persistence_store=persistence_layer(table or None),
                    config=config,
                )(func)
            step = stepcontext.current()
            if step is not None and step.lambda_context is not None:
                # An in-progress record then expires with the invocation (a crashed call does not block
                # the retry until ``expires_after``).
                configs[table].register_lambda_context(step.lambda_context)
            return built[table](*args, **kwargs)

        return call  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
