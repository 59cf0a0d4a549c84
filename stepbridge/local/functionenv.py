"""LocalCloud's emulation of what each deployed function gets from its configuration.

* **Environment variables.** In AWS a declared step's ``environment=`` (and the orchestrator's, from
  ``App(environment=...)``) is in ``os.environ`` of its own process. LocalCloud runs every function in
  one process, so it sets the function's variables (and ``STEPBRIDGE_SECRETS``, as the template
  does) around each invocation and restores the previous values afterwards.
* **Secret values.** ``stepbridge.secret`` reads through Powertools Parameters; with the moto backend
  LocalCloud installs a fresh Powertools reader (so nothing cached by an earlier cloud leaks in), and
  with the memory backend a reader of the in-memory store. ``LocalCloud.set_secret`` clears the cache,
  so a test that changes a value sees it at once (in AWS a warm container sees it after ``max_age``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from stepbridge.api.app import App
from stepbridge.api.deploy import FunctionConfig
from stepbridge.config import ENV_SECRETS
from stepbridge.errors import SecretUnavailable
from stepbridge.infra.parameters import PowertoolsSecrets


@contextlib.contextmanager
def function_environment(config: FunctionConfig | None) -> Iterator[None]:
    """``os.environ`` as the function's own for the duration of one invocation, then restored."""
    variables: dict[str, str] = dict(config.environment) if config is not None else {}
    if config is not None and config.secrets:
        variables[ENV_SECRETS] = json.dumps(dict(sorted(config.secrets.items())), separators=(",", ":"))
    if not variables:
        yield
        return
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def outside_function(config: FunctionConfig | None) -> Iterator[None]:
    """``os.environ`` without the variables of ``config``'s function, then restored: a function invoked from inside
    another's invocation (a synchronous step invoke) runs in its own process in AWS, where they are not set."""
    keys = list(config.environment) if config is not None else []
    if config is not None and config.secrets:
        keys.append(ENV_SECRETS)
    saved = {key: os.environ.pop(key) for key in keys if key in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@contextlib.contextmanager
def as_function(app: App, step: str | None, iam: Any = None) -> Iterator[None]:
    """One invocation of declared step ``step`` (``None``: the orchestrator): its environment variables,
    and with an :class:`~stepbridge.local.iamenforce.IamEnforcer` its IAM identity."""
    definition = app.steps.get(step) if step is not None else None
    config = definition.config if definition is not None else (app.orchestrator_config if step is None else None)
    with function_environment(config), (iam.running(step) if iam is not None else contextlib.nullcontext()):
        yield


class LocalSecrets:
    """The secret reader LocalCloud installs (see the module docstring)."""

    def __init__(self, resources: Any, *, backend: str) -> None:
        self._resources = resources
        self._powertools: Any = None
        if backend == "moto":
            self._powertools = PowertoolsSecrets()

    def read(self, source: str, max_age: int) -> str:
        """The value of ``source`` (SSM parameter name or Secrets Manager ARN)."""
        if self._powertools is not None:
            value: str = self._powertools.read(source, max_age)
            return value
        found = self._resources.get_secret(source)
        if found is None:
            raise SecretUnavailable(f"could not read secret {source!r}: it was never set (cloud.set_secret)")
        return str(found)

    def clear(self) -> None:
        """Forget cached values."""
        if self._powertools is not None:
            self._powertools.clear()


__all__ = ["LocalSecrets", "as_function", "function_environment"]
