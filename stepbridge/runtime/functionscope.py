"""Which deployed function is running: a declared step's own Lambda, or the orchestrator (inline steps).

In AWS each function is its own process and reads its declared secrets from its environment
(``STEPBRIDGE_SECRETS``). Under LocalCloud and in unit tests every function runs in one process, so
the step worker and the orchestrator set this scope around the code they run - the same seam as
:mod:`stepbridge.runtime.stepcontext` - and :func:`stepbridge.secret` consults it first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from stepbridge.config import ENV_SECRETS, ENV_STEP


@dataclass(frozen=True)
class FunctionScope:
    """The running function (``"step 'charge'"`` or ``"the orchestrator"``) and the secrets it declared."""

    name: str
    secrets: Mapping[str, str] = field(default_factory=dict)


_current: ContextVar[FunctionScope | None] = ContextVar("stepbridge_function_scope", default=None)


def enter(scope: FunctionScope) -> object:
    """Set the running function (returns a token for :func:`leave`)."""
    return _current.set(scope)


def leave(token: object) -> None:
    """Restore the previous scope."""
    _current.reset(token)  # type: ignore[arg-type]


def current() -> FunctionScope:
    """The scope set by the worker/orchestrator, else the Lambda's own environment (AWS)."""
    scope = _current.get()
    if scope is not None:
        return scope
    step = os.environ.get(ENV_STEP)
    raw = os.environ.get(ENV_SECRETS) or "{}"
    try:
        secrets = json.loads(raw)
    except ValueError:
        secrets = {}
    return FunctionScope(f"step '{step}'" if step else "the orchestrator", secrets if isinstance(secrets, dict) else {})


__all__ = ["FunctionScope", "current", "enter", "leave"]
