"""Logical ids and physical names.

Logical ids are derived from workflow/step/trigger names in sanitised CamelCase
(``charge-payment`` -> ``StepChargePayment...``) so a template reads like the app. Two names
that sanitise to the same id (``charge-payment`` / ``charge_payment``) are told apart by a short
hash of the original name; every id also reserves the ids SAM derives from it
(``<Function>Role``, ``<Function>EventInvokeConfig``...), so no derived id can collide either.

Physical names follow :func:`stepbridge.config.step_function_name` so the runtime, which only
knows the stack and step names, finds the function the template created.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from stepbridge.config import step_function_name

#: Fixed logical ids of the app-wide resources.
LAYER = "StepbridgeLayer"
TABLE = "Table"
BUS = "EventBus"
QUEUE = "WorkQueue"
DLQ = "DeadLetterQueue"
ROUTER_DLQ = "RouterDeadLetterQueue"
#: The standard queue between the bus's rules and the router (docs/RELIABILITY.md, "The router's queue").
ROUTER_QUEUE = "RouterQueue"
ROUTER_QUEUE_POLICY = "RouterQueuePolicy"
#: The router's SQS event source (SAM derives the mapping's id from it: ``RouterFunctionRouterQueueEvent``).
ROUTER_QUEUE_EVENT = "RouterQueueEvent"
TIMER_GROUP = "TimerScheduleGroup"
PAYLOAD_BUCKET = "PayloadBucket"
PAYLOAD_BUCKET_POLICY = "PayloadBucketPolicy"
SCHEDULER_ROLE = "SchedulerRole"
HTTP_API = "HttpApi"
ORCHESTRATOR = "Orchestrator"
ROUTER = "Router"
API = "Api"
SWEEPER = "Sweeper"
SWEEPER_SCHEDULE_ROLE = "SweeperScheduleRole"
JWT_AUTHORIZER = "JwtAuthorizer"
#: Template parameters of a JWT-protected API (``App(api_auth=JwtAuth(...))``).
JWT_ISSUER_PARAM = "JwtIssuer"
JWT_AUDIENCE_PARAM = "JwtAudience"
CATCH_ALL_RULE = "RouterCatchAllRule"
CATCH_ALL_PERMISSION = "RouterCatchAllPermission"
#: Shared by the declared steps: one log group (each function's streams carry its name) and one role for
#: every step without grants of its own (docs/DEPLOY.md, "150 declared steps").
DECLARED_STEPS = "DeclaredSteps"

#: Suffixes of the resources one "function unit" (log group + role + function) is made of.
FUNCTION_UNIT = ("Function", "Role", "LogGroup")
#: Ids SAM derives from a function's logical id (AWS::Serverless::Function expansion).
SAM_FUNCTION_DERIVED = ("Role", "EventInvokeConfig", "Permission", "Alias", "Version")

#: Longest logical id CloudFormation accepts.
LOGICAL_ID_MAX = 255
_CAMEL_MAX = 160
#: Lambda function names: 1-64 characters.
FUNCTION_NAME_MAX = 64
#: CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters.
STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


def short_hash(text: str, length: int = 6) -> str:
    """A stable short hex digest (sha256) used to disambiguate names."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def camel(name: str) -> str:
    """``order.created-v2_fast`` -> ``OrderCreatedV2Fast``: alphanumeric CamelCase, never empty."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    text = "".join(p[0].upper() + p[1:] for p in parts) or "X"
    if len(text) > _CAMEL_MAX:
        text = text[:_CAMEL_MAX] + short_hash(name)
    return text


class LogicalIds:
    """Allocates collision-free logical ids; deterministic for a deterministic call order."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._taken: set[str] = set(reserved)

    def allocate(self, prefix: str, name: str, suffixes: Iterable[str] = ("",)) -> str:
        """Claim ``prefix + Camel(name)`` (plus each ``suffix``) and return that base id.

        When any ``base + suffix`` is already taken, a short hash of ``name`` is appended.
        """
        wanted = tuple(suffixes)
        base = prefix + camel(name)
        length = 6
        while any(base + s in self._taken for s in wanted):
            base = prefix + camel(name) + short_hash(f"{prefix}|{name}", length)
            length += 2
        for s in wanted:
            full = base + s
            if len(full) > LOGICAL_ID_MAX:  # pragma: no cover - camel() caps the length well below
                raise ValueError(f"logical id {full!r} is longer than {LOGICAL_ID_MAX} characters")
            self._taken.add(full)
        return base

    def reserve(self, *ids: str) -> None:
        """Mark ids as used (fixed resources and SAM-derived ids)."""
        self._taken.update(ids)


def sanitized_step(step: str) -> str:
    """The step part of a declared step's function name, exactly as ``step_function_name`` builds it.

    Checked against :func:`stepbridge.config.step_function_name` itself, so the compiler and the
    runtime cannot silently drift apart.
    """
    plain = re.sub(r"[^A-Za-z0-9-]", "-", step).strip("-")
    if len(plain) + 2 <= FUNCTION_NAME_MAX and step_function_name("s", step) != f"s-{plain}":
        raise RuntimeError(
            "stepbridge.config.step_function_name changed how it sanitises step names; "
            "update stepbridge/compiler/naming.py to match"
        )
    return plain


def max_stack_name_length(step_names: Iterable[str]) -> int:
    """Longest stack name for which every ``{stack}-{step}`` function name fits in 64 characters."""
    longest = max((len(sanitized_step(s)) for s in step_names), default=0)
    return min(128, FUNCTION_NAME_MAX - 1 - longest) if longest else 128
