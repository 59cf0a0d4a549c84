"""What the decorators record: one frozen dataclass per kind of definition (workflow, step, trigger,
schedule, webhook, state machine binding) and the HTTP API's JWT authorizer settings.

``App`` (``api/app.py``) keeps them in its registries; the compiler and the runtime read them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stepbridge.api.deploy import FunctionConfig
from stepbridge.api.hints import type_hints
from stepbridge.api.machine import StateMachine
from stepbridge.api.retry import Retry
from stepbridge.api.serde import Serde
from stepbridge.errors import WorkflowDefinitionError


@dataclass(frozen=True)
class StepDef:
    """A declared step: its own Lambda function with its own timeout, memory and retry policy."""

    name: str
    fn: Callable[..., Any]
    timeout: float = 30.0
    memory: int = 256
    retry: Retry | None = None
    concurrency: int | None = None
    description: str = ""
    #: Run the function at most once per execution (a started marker is journaled first; a crash
    #: after it fails the step with ``StepInterrupted`` instead of running it again).
    at_most_once: bool = False
    #: Grants, secrets, environment, layers of the step's function (``policies=``, ``secrets=`` ...).
    config: FunctionConfig = field(default_factory=FunctionConfig)
    #: How its arguments and result are stored (``api/serde.py``); ``None`` = the app's.
    serde: Serde | None = None


@dataclass(frozen=True)
class WorkflowDef:
    """A workflow: an ``async def (ctx, input)`` function registered under a name."""

    name: str
    fn: Callable[..., Any]
    input_type: Any = Any
    takes_input: bool = True
    cache_ttl: float | None = None
    description: str = ""
    #: The input parameter's name ("" when the workflow takes no input).
    input_name: str = ""
    #: How its input and result are stored (``api/serde.py``); ``None`` = the app's.
    serde: Serde | None = None
    #: Seconds from its start until it times out (``timeout=``: status TIMED_OUT); ``None`` = no deadline.
    timeout: float | None = None


@dataclass(frozen=True)
class TriggerDef:
    """``app.on(...)``: start ``workflow`` when an event of one of ``event_types`` arrives."""

    name: str
    event_types: tuple[str, ...]
    workflow: str
    input: str | None = None
    filter: Mapping[str, Any] | None = None
    debounce: float | None = None
    key: str | None = None
    max_wait: float | None = None
    #: Only events with one of these EventBridge sources start it (``None`` = any).
    sources: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ScheduleDef:
    """A recurring schedule: a 5-field cron expression (minute hour day month weekday) in ``timezone``."""

    name: str
    cron: str
    workflow: str
    timezone: str = "UTC"
    input: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class WebhookDef:
    """An inbound webhook on the HTTP API, verified by ``provider`` and routed by event type."""

    path: str
    provider: str
    route: Mapping[str, str]
    secret_param: str | None = None
    secret: str | None = None
    tolerance: float = 300.0
    type_key: str = "type"
    signature_header: str = "X-Signature"
    #: API Gateway throttle of this public route: steady requests per second and burst.
    rate_limit: float = 50.0
    burst_limit: int = 100


@dataclass(frozen=True)
class MachineDef:
    """A state machine bound to events: ``events`` maps an event type to a machine event name."""

    machine: StateMachine
    events: Mapping[str, str]
    key: str


@dataclass(frozen=True)
class JwtAuth:
    """Protect the HTTP API with a JWT authorizer instead of IAM (SigV4) - e.g. Cognito, Auth0, Okta.

    ``App("acme", api_auth=JwtAuth(issuer="https://cognito-idp.eu-west-1.amazonaws.com/<pool>",
    audience=["<app client id>"]))``. ``issuer`` and ``audience`` become the template parameters
    ``JwtIssuer`` and ``JwtAudience`` (these values are their defaults, so each stage can deploy
    its own with ``--parameter-overrides``). ``scopes`` are required on every route; the token is
    read from ``identity_source``. Webhook routes stay public (their signature is checked in code).
    """

    issuer: str
    audience: tuple[str, ...] | list[str]
    scopes: tuple[str, ...] | list[str] = ()
    identity_source: str = "$request.header.Authorization"

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not self.issuer.startswith("https://"):
            raise WorkflowDefinitionError(f"JwtAuth.issuer must be an https:// URL, got {self.issuer!r}")
        audience = (self.audience,) if isinstance(self.audience, str) else tuple(self.audience)
        if not audience or not all(isinstance(a, str) and a and "," not in a for a in audience):
            raise WorkflowDefinitionError(
                f"JwtAuth.audience must be one or more non-empty client ids (without commas), got {self.audience!r}"
            )
        object.__setattr__(self, "audience", audience)
        object.__setattr__(self, "scopes", tuple(self.scopes))
        if not self.identity_source.startswith("$request."):
            raise WorkflowDefinitionError(
                "JwtAuth.identity_source must be a '$request.header.<name>'-style selector, "
                f"got {self.identity_source!r}"
            )


def input_type_of(wf: WorkflowDef) -> Any:
    """The type a workflow's input is validated with; a hint naming a class defined after the
    workflow (a forward reference) resolves on first use."""
    if wf.input_type is Any and wf.input_name in getattr(wf.fn, "__annotations__", {}):
        return type_hints(wf.fn).get(wf.input_name, Any)
    return wf.input_type


def declared_input(fn: Callable[..., object]) -> tuple[object, str]:
    """The annotated type of a workflow's input parameter (``Any`` when unannotated) and its name
    (``""`` when the workflow takes no input)."""
    params = list(inspect.signature(fn).parameters.values())
    if len(params) < 2:
        return Any, ""
    return type_hints(fn).get(params[1].name, Any), params[1].name
