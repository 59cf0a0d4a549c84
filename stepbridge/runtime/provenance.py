"""Where an event came from: its ``source`` and, for events posted to ``POST /events``, the caller.

Anyone allowed to call ``POST /events`` could otherwise resolve any wait - post
``Approval.decided`` with ``approved: true``. The HTTP API therefore stamps what it publishes:

* ``source`` is ``stepbridge.api`` unless the body names another one, which may not be the app's
  own source (the app name, what ``ctx.send`` uses), start with ``aws.`` or be ``stepbridge``/``stepbridge.*``;
  so an API caller can never pass for the app's own workflows or for stepbridge;
* the caller's identity goes into the event's ``resources`` as ``stepbridge:caller/<identity>``:
  the IAM principal (``requestContext.authorizer.iam.userArn``) or the JWT subject
  (``jwt:<sub>`` from ``requestContext.authorizer.jwt.claims.sub``), never anything from the body.
  Any ``stepbridge:caller/`` resource an event already carries is dropped first.

``ctx.wait_for(..., sources=[...], callers=[...])`` and ``app.on(..., sources=[...])`` accept only
matching events. ``callers`` entries may use ``*`` wildcards (``arn:aws:sts::123:assumed-role/Approver/*``).
Unrestricted (the default, as before) every event of the type counts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stepbridge.api.app import check_filter

#: ``source`` of events posted to ``POST /events`` without one.
API_SOURCE = "stepbridge.api"
#: Prefix of the ``resources`` entry that names the caller of ``POST /events``.
CALLER_PREFIX = "stepbridge:caller/"


def caller_identity(request: Mapping[str, Any]) -> str | None:
    """The authenticated caller of an API Gateway request, or ``None``.

    IAM: the principal's ARN; JWT: ``jwt:<sub>``. Only what API Gateway's authorizer put there counts:
    HTTP API and function URL (payload 2.0) ``requestContext.authorizer.iam.userArn`` /
    ``authorizer.jwt.claims.sub``; REST API (payload 1.0) ``requestContext.identity.userArn`` (IAM auth) /
    ``authorizer.claims.sub`` (Cognito).
    """
    context = request.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    iam = authorizer.get("iam") or {}
    arn = iam.get("userArn") or (context.get("identity") or {}).get("userArn")
    if isinstance(arn, str) and arn:
        return arn
    claims = (authorizer.get("jwt") or {}).get("claims") or authorizer.get("claims") or {}
    sub = claims.get("sub")
    if isinstance(sub, str) and sub:
        return f"jwt:{sub}"
    return None


def stamp(resources: Iterable[str], caller: str | None) -> tuple[str, ...]:
    """``resources`` without any caller entry, plus the caller's (when known)."""
    kept = tuple(r for r in resources if not str(r).startswith(CALLER_PREFIX))
    return (*kept, f"{CALLER_PREFIX}{caller}") if caller else kept


def caller_of(resources: Iterable[object]) -> str | None:
    """The caller stamped on an event, or ``None`` (the app's own events, other producers)."""
    for res in resources or ():
        if isinstance(res, str) and res.startswith(CALLER_PREFIX):
            return res[len(CALLER_PREFIX):]
    return None


def check_api_source(source: object, app_name: str) -> str:
    """The ``source`` an API caller asked for; ``ValueError`` when it would impersonate a producer."""
    if not isinstance(source, str) or not 0 < len(source) <= 256:
        raise ValueError("source must be a string of 1-256 characters")
    reserved = source == "stepbridge" or source.startswith("stepbridge.")
    if source.startswith("aws.") or (reserved and source != API_SOURCE):
        raise ValueError("source must not start with 'aws.' or be 'stepbridge' / 'stepbridge.*' (reserved for "
                         "AWS and stepbridge)")
    if source == app_name:
        raise ValueError(f"source '{source}' is the app's own (what its workflows' ctx.send uses); "
                         "choose one that names your system")
    return source


def accepts(source: str, resources: Iterable[object], sources: Sequence[str] | None,
            callers: Sequence[str] | None) -> bool:
    """Whether an event from ``source`` (stamped ``resources``) passes the restrictions."""
    if sources is not None and source not in sources:
        return False
    if callers is not None:
        caller = caller_of(resources)
        if caller is None or not any(fnmatch.fnmatchcase(caller, pattern) for pattern in callers):
            return False
    return True


__all__ = ["API_SOURCE", "CALLER_PREFIX", "accepts", "caller_identity", "caller_of", "check_api_source",
           "check_filter", "stamp"]
