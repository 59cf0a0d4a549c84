"""Webhook secrets from SSM Parameter Store (``SecureString``), cached briefly per Lambda container."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

#: How long a fetched secret is reused, seconds: a rotated secret is picked up within this delay.
DEFAULT_TTL = 300.0


class SsmSecrets:
    """``get_secret(name)``: the decrypted value of parameter ``name``, or ``None`` if it does not exist.

    Values are cached for ``ttl`` seconds (one SSM call per secret per container per TTL, well
    under the GetParameter rate limit); a missing parameter is not cached, so creating it takes
    effect at once.
    """

    def __init__(self, *, ttl: float = DEFAULT_TTL, client: SSMClient | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._client = client
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _ssm(self) -> SSMClient:
        if self._client is None:
            self._client = boto3.client("ssm")
        return self._client

    def get_secret(self, name: str) -> str | None:
        """The decrypted value of ``name`` (cached), or ``None`` when the parameter does not exist."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and now - cached[1] < self.ttl:
                return cached[0]
        ssm = self._ssm()
        try:
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"].get("Value")
        except ssm.exceptions.ParameterNotFound:
            return None
        if value is None:
            return None
        with self._lock:
            self._cache[name] = (value, now)
        return value

    def clear(self) -> None:
        """Forget every cached value."""
        with self._lock:
            self._cache.clear()


__all__ = ["DEFAULT_TTL", "SsmSecrets"]
