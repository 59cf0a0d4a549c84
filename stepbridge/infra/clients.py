"""boto3 clients created on first use, once per process.

A cold start that never calls a service skips creating its client (tens of milliseconds each).
boto3's default session is not thread-safe while it creates clients, hence one lock for all.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar, cast

_C = TypeVar("_C")
_LOCK = threading.Lock()


class LazyClient(Generic[_C]):
    """One boto3 client of ``service``: the injected one (tests, LocalCloud), or made on first :meth:`get`."""

    def __init__(self, service: str, client: _C | None = None, *, config: object = None) -> None:
        self.service = service
        self._client = client
        #: Whether the client was given (tests, LocalCloud) rather than made here.
        self.injected = client is not None
        self._config = config  # a ``botocore.config.Config`` for the client made here

    @property
    def created(self) -> bool:
        """Whether the client exists yet (injected or made)."""
        return self._client is not None

    def get(self) -> _C:
        """The client, made now if it does not exist yet."""
        if self._client is None:
            with _LOCK:
                if self._client is None:
                    import boto3  # here, not at the top: the cold start of a function that never calls AWS

                    self._client = cast(_C, boto3.client(self.service, config=self._config))  # type: ignore[call-overload]
        return self._client
