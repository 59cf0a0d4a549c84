"""The checks every declaration passes at once, so a bad name, event type, filter or step limit fails
where it is written (``@app.step``, ``app.on``, ``ctx.wait_for``) instead of at deploy time.

The Lambda and EventBridge limits are cited where they are checked; the compiler reuses
``step_limit_problems`` to list every problem of every step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from stepbridge.errors import WorkflowDefinitionError

#: Lambda's hard maximum timeout, seconds (AWS Lambda quotas).
LAMBDA_MAX_TIMEOUT = 900
#: Lambda memory range, MB (AWS Lambda quotas).
LAMBDA_MEMORY_RANGE = (128, 10240)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
#: EventBridge detail-type: 1-128 characters (PutEventsRequestEntry).
_DETAIL_TYPE_RE = re.compile(r"^[^\x00-\x1f]{1,128}$")


def check_name(kind: str, name: str) -> str:
    """Validate a workflow, step or schedule name (1-80 characters; they become parts of AWS resource names)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise WorkflowDefinitionError(
            f"{kind} name {name!r} is invalid: use 1-80 letters, digits, '-', '_', '.' or ':', "
            "starting with a letter or digit"
        )
    return name


def check_filter(values: Sequence[str] | str | None, what: str) -> tuple[str, ...] | None:
    """Validate a ``sources=`` / ``callers=`` argument (``app.on``, ``ctx.wait_for``): ``None`` (any)
    or a non-empty list of non-empty strings."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    found = tuple(values)
    if not found or not all(isinstance(v, str) and v for v in found):
        raise WorkflowDefinitionError(f"{what} must be a non-empty list of non-empty strings, got {values!r}")
    return found


def check_event_type(event_type: str, *, where: str) -> str:
    """Validate an event type used as an EventBridge detail-type (1-128 printable characters)."""
    if not isinstance(event_type, str) or not _DETAIL_TYPE_RE.match(event_type) or event_type != event_type.strip():
        raise WorkflowDefinitionError(
            f"{where}: event type {event_type!r} is not a valid EventBridge detail-type "
            "(1-128 printable characters, no leading/trailing spaces)"
        )
    return event_type


def check_jmespath(expression: Any, *, where: str, what: str) -> str:
    """Compile a JMESPath expression now, so a typo fails where it is declared instead of on each event."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    if not isinstance(expression, str):
        raise WorkflowDefinitionError(f"{where}: {what} must be a JMESPath string such as 'detail.orderId', "
                                      f"got {type(expression).__name__}")
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        column = getattr(exc, "lex_position", None)
        at = f" at column {column}" if isinstance(column, int) else ""
        reason = str(getattr(exc, "msg", None) or str(exc).splitlines()[0])
        raise WorkflowDefinitionError(
            f"{where}: {what} {expression!r} is not a valid JMESPath expression ({reason}{at}); "
            "e.g. 'detail.orderId' (see jmespath.org)"
        ) from None
    return expression


def step_limit_problems(step_name: str, timeout: float, memory: int, concurrency: int | None) -> list[str]:
    """What in a declared step's settings Lambda would refuse (empty when it fits). The one check:
    ``@app.step`` raises the first problem at once; the compiler lists them all for every step."""
    where = f"step '{step_name}'"
    problems = []
    if not 1 <= timeout <= LAMBDA_MAX_TIMEOUT:
        problems.append(
            f"{where}: timeout {timeout:g} s is outside Lambda's 1-{LAMBDA_MAX_TIMEOUT} s range; "
            "split the work into several steps"
        )
    if not LAMBDA_MEMORY_RANGE[0] <= memory <= LAMBDA_MEMORY_RANGE[1]:
        problems.append(f"{where}: memory {memory} MB is outside Lambda's {LAMBDA_MEMORY_RANGE} MB range")
    if concurrency is not None and concurrency < 1:
        problems.append(f"{where}: concurrency must be >= 1, got {concurrency}")
    return problems


def kebab(name: str) -> str:
    """``charge_payment`` -> ``charge-payment``: the default name of a declared step."""
    return name.strip("_").replace("_", "-")
