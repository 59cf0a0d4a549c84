"""Secrets never reach the logs: secret-named fields and the webhook secrets a container read are redacted."""

from __future__ import annotations

import io
import json
import logging

import pytest

from stepbridge.runtime import observability
from stepbridge.runtime.observability import REDACTED, RedactSecrets, logger, register_secret


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    log = logger()
    handler = log.handlers[0] if log.handlers else None
    assert handler is not None
    old = handler.stream  # type: ignore[attr-defined]
    handler.stream = stream  # type: ignore[attr-defined]
    yield stream
    handler.stream = old  # type: ignore[attr-defined]


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_secret_named_fields_are_redacted(captured: io.StringIO) -> None:
    logger().warning(
        "webhook rejected",
        extra={
            "path": "/hooks/x",
            "Stripe-Signature": "t=1,v1=abc",
            "headers": {"Authorization": "Bearer xyz", "ok": 1},
        },
    )
    (entry,) = lines(captured)
    assert entry["Stripe-Signature"] == REDACTED
    assert entry["headers"] == {"Authorization": REDACTED, "ok": 1}
    assert entry["path"] == "/hooks/x"


def test_registered_secret_values_are_redacted_everywhere(captured: io.StringIO) -> None:
    secret = "whsec_" + "live_0123456789"  # read at run time (from SSM), never a literal in the code
    register_secret(secret)
    try:
        try:
            raise ValueError(f"bad signature for {secret}")
        except ValueError:
            logger().exception(f"secret {secret} leaked?", extra={"detail": [f"x {secret} y"]})
        text = captured.getvalue()
        assert secret not in text
        (entry,) = lines(captured)
        assert entry["message"] == f"secret {REDACTED} leaked?"
        assert entry["detail"] == [f"x {REDACTED} y"]
        assert REDACTED in str(entry["exception"])
    finally:
        observability._known_secrets.discard(secret)


def test_short_values_are_not_registered_and_the_filter_is_installed() -> None:
    register_secret("abc")
    assert "abc" not in observability._known_secrets
    assert any(isinstance(f, RedactSecrets) for f in logging.getLogger(logger().name).filters)


def test_a_webhook_secret_read_from_ssm_never_appears_in_the_logs(captured: io.StringIO) -> None:
    from stepbridge import App, Context
    from stepbridge.local import LocalCloud

    app = App("hooks")

    @app.workflow("paid")
    async def paid(ctx: Context, data: dict[str, object]) -> str:
        raise RuntimeError(f"boom with {data}")

    app.webhook("/webhooks/pay", provider="hmac", secret_param="/hooks/secret", route={"paid": "paid"})
    with LocalCloud(app, backend="memory") as cloud:
        cloud.set_secret("/hooks/secret", "s3cr3t-hmac-key")
        r = cloud.http("POST", "/webhooks/pay", body={"type": "paid", "id": "e1"}, headers={"X-Signature": "nope"})
        assert r.status_code == 401
        logger().warning("debugging", extra={"value": "the key is s3cr3t-hmac-key"})
    assert "s3cr3t-hmac-key" not in captured.getvalue()
    observability._known_secrets.discard("s3cr3t-hmac-key")
