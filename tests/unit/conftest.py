"""Fixtures shared by unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stepbridge.runtime import payloads


@pytest.fixture
def without_payload_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run as a function without a payload bucket (no ``STEPBRIDGE_PAYLOAD_BUCKET``): large values are not
    moved to S3, so the DynamoDB, SQS and EventBridge limits apply to them as they are. LocalCloud's
    installation of its bucket is skipped while the fixture is active."""
    previous = payloads.install(None)
    monkeypatch.setattr(payloads, "install", lambda blobs: None)
    yield
    monkeypatch.undo()
    payloads.install(previous)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, so nothing can reach a real AWS account."""
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
