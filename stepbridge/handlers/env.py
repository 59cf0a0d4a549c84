"""The wiring of one Lambda container: the app, the store and the effects, built once per container."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepbridge.api.app import App
from stepbridge.runtime.journalcache import JournalCache
from stepbridge.runtime.loops import LoopFactory
from stepbridge.runtime.ports import Effects, Store


@dataclass
class Environment:
    """What a handler needs: the user's app and the ports (plus LocalCloud-only knobs)."""

    app: App
    store: Store
    effects: Effects
    loop_factory: LoopFactory | None = None
    enforce_step_timeout: bool = False
    secrets: Any = None
    overrides: dict[str, Callable[..., object]] = field(default_factory=dict)
    #: ``waiter(execution_id, seconds)`` returns when the execution is terminal or ``seconds`` have passed
    #: (the HTTP API's ``"wait"``); ``None`` = poll ``describe`` with real sleeps (AWS). LocalCloud runs its
    #: virtual clock instead, so nothing sleeps in real time.
    waiter: Callable[[str, float], None] | None = None
    #: How handlers wait before retrying a failed write in-process (``None`` = ``time.sleep``; LocalCloud: no wait).
    sleep: Callable[[float], None] | None = None
    #: The orchestrator's journal copies, kept while the process is warm (``None`` = always read everything).
    journal_cache: JournalCache | None = field(default_factory=JournalCache)


def load_app(spec: str) -> App:
    """Import ``module:attribute`` (default attribute ``app``) and check it is an :class:`App`."""
    module_name, _, attr = spec.partition(":")
    if "." not in sys.path:
        sys.path.insert(0, ".")
    module = importlib.import_module(module_name)
    app = getattr(module, attr or "app", None)
    if not isinstance(app, App):
        raise RuntimeError(f"'{spec}' is not a stepbridge App (got {type(app).__name__}); check STEPBRIDGE_APP")
    return app


@functools.lru_cache(maxsize=1)
def from_lambda_environment() -> Environment:
    """Build the environment from ``STEPBRIDGE_*`` variables (cached for the container's lifetime)."""
    from stepbridge.config import RuntimeConfig
    from stepbridge.infra.aws import AwsEffects
    from stepbridge.infra.dynamodb import DynamoStore

    config = RuntimeConfig.from_env()
    if config.payload_bucket:
        from stepbridge.infra.blobs import S3Blobs
        from stepbridge.runtime import payloads

        payloads.install(S3Blobs(config.payload_bucket))
    from stepbridge.runtime.retention import retention_seconds

    store = DynamoStore(config.table, retention=retention_seconds())
    return Environment(app=load_app(config.app), store=store, effects=AwsEffects(config))
