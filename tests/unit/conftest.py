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
