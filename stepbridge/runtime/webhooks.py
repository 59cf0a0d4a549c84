"""Inbound webhooks: signature verification, signing helpers, routing and execution ids.

No AWS here: the API handler reads the secret (SSM through ``env.secrets``), passes the raw
body, the headers and the clock's ``now``, and starts what :func:`plan_delivery` returns.

Providers
---------
``stripe``
    ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`` where each ``v1`` may be
    ``HMAC-SHA256(secret, f"{t}.{raw body}")`` (several during a secret roll). The request is
    accepted when one ``v1`` matches (constant-time compare) and ``|now - t| <= tolerance``.
    The routed workflow gets ``event["data"]``; the execution id is the event id (``evt_...``).
``hmac``
    ``<signature_header>: sha256=<hex>`` (default header ``X-Signature``) of the raw body, or of
    ``f"{timestamp}.{raw body}"`` when an ``X-Timestamp: <unix seconds>`` header is sent, which is
    then checked against the tolerance. The workflow gets the whole payload; the execution id is
    the payload's ``id`` if it has one, else the SHA-256 of the body.

Replay protection is the tolerance window plus idempotent execution ids: a redelivered (or
replayed within the window) event maps to the execution it already started.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jmespath

from stepbridge.api.app import WebhookDef
from stepbridge.runtime.executions import check_execution_id

STRIPE_HEADER = "Stripe-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
DEFAULT_TOLERANCE = 300.0
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_ID_BAD_CHARS = re.compile(r"[^A-Za-z0-9\-_.:]")


class SignatureError(Exception):
    """The webhook request is not authentic (missing/malformed/wrong signature or stale timestamp)."""


# ---- signing (tests and senders) ----------------------------------------------------------------


def _raw(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _timestamp(t: int | float | datetime) -> int:
    return int(t.timestamp()) if isinstance(t, datetime) else int(t)


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def stripe_signature(secret: str, body: bytes | str, t: int | float | datetime, *, extra: tuple[str, ...] = ()) -> str:
    """The ``Stripe-Signature`` header value Stripe would send for ``body`` at time ``t``.

    ``extra`` adds more ``v1`` values (as Stripe does while a rolled secret is still valid).
    """
    ts = _timestamp(t)
    sig = _hmac_hex(secret, f"{ts}.".encode() + _raw(body))
    return ",".join([f"t={ts}", f"v1={sig}", *(f"v1={e}" for e in extra)])


def hmac_signature(secret: str, body: bytes | str, timestamp: int | float | datetime | None = None) -> str:
    """The ``sha256=<hex>`` header value of the generic ``hmac`` provider.

    With ``timestamp`` the signature covers ``f"{timestamp}.{body}"``; send the same value in
    ``X-Timestamp``.
    """
    message = _raw(body) if timestamp is None else f"{_timestamp(timestamp)}.".encode() + _raw(body)
    return "sha256=" + _hmac_hex(secret, message)


# ---- verification -------------------------------------------------------------------------------


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _any_match(expected: str, candidates: list[str]) -> bool:
    """Constant-time comparison against every candidate (no early exit)."""
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode("ascii"), candidate.strip().lower().encode("ascii", "replace"))
    return matched


def _check_window(ts: int, now: datetime, tolerance: float, what: str) -> None:
    age = now.timestamp() - ts
    if abs(age) > tolerance:
        raise SignatureError(
            f"{what} {ts} is {abs(age):.0f} s {'old' if age > 0 else 'in the future'}, outside the "
            f"{tolerance:g} s tolerance (replayed or clock skew)"
        )


def parse_stripe_header(value: str) -> tuple[int, list[str]]:
    """``(t, [v1, ...])`` from a ``Stripe-Signature`` value; ``SignatureError`` when malformed."""
    t: int | None = None
    v1: list[str] = []
    for part in value.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                t = int(val)
            except ValueError:
                raise SignatureError(f"{STRIPE_HEADER} has a non-numeric timestamp") from None
        elif key == "v1":
            v1.append(val.strip())
    if t is None:
        raise SignatureError(f"{STRIPE_HEADER} has no timestamp (t=...)")
    if not v1:
        raise SignatureError(f"{STRIPE_HEADER} has no v1 signature")
    return t, v1


def verify_stripe(secret: str, body: bytes | str, signature: str | None, now: datetime,
                  tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Check a Stripe signature header for ``body``; returns its timestamp or raises ``SignatureError``."""
    if not signature:
        raise SignatureError(f"the {STRIPE_HEADER} header is missing")
    t, candidates = parse_stripe_header(signature)
    expected = _hmac_hex(secret, f"{t}.".encode() + _raw(body))
    if not _any_match(expected, candidates):
        raise SignatureError(f"no v1 signature in {STRIPE_HEADER} matches the payload")
    _check_window(t, now, tolerance, "signature timestamp")
    return t


def verify_hmac(secret: str, body: bytes | str, signature: str | None, now: datetime, *,
                timestamp: str | None = None, tolerance: float = DEFAULT_TOLERANCE,
                header_name: str = "X-Signature") -> None:
    """Check a ``sha256=<hex>`` signature of ``body`` (or of ``f"{timestamp}.{body}"``); raises ``SignatureError``."""
    if not signature:
        raise SignatureError(f"the {header_name} header is missing")
    scheme, sep, digest = signature.strip().partition("=")
    if not sep or scheme.lower() != "sha256" or not _HEX_SHA256.match(digest):
        raise SignatureError(f"the {header_name} header must be 'sha256=<64 hex digits>'")
    if timestamp is None:
        message = _raw(body)
    else:
        try:
            ts = int(timestamp.strip())
        except ValueError:
            raise SignatureError(f"the {TIMESTAMP_HEADER} header must be unix seconds") from None
        message = f"{ts}.".encode() + _raw(body)
    if not _any_match(_hmac_hex(secret, message), [digest]):
        raise SignatureError(f"the {header_name} signature does not match the payload")
    if timestamp is not None:
        _check_window(ts, now, tolerance, TIMESTAMP_HEADER)


def verify_request(hook: WebhookDef, headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> None:
    """Verify one request to ``hook`` with its provider; raises ``SignatureError``."""
    if hook.provider == "stripe":
        verify_stripe(secret, body, header(headers, STRIPE_HEADER), now, hook.tolerance)
    elif hook.provider == "hmac":
        verify_hmac(secret, body, header(headers, hook.signature_header), now,
                    timestamp=header(headers, TIMESTAMP_HEADER), tolerance=hook.tolerance,
                    header_name=hook.signature_header)
    else:  # App.webhook rejects other providers; keep the failure closed anyway
        raise SignatureError(f"unknown webhook provider {hook.provider!r}")


# ---- routing ------------------------------------------------------------------------------------


def sanitize_execution_id(raw: str) -> str:
    """Turn an external event id into a valid execution id (1-128 of ``[A-Za-z0-9-_.:~@]``).

    A valid id is kept as is (``evt_1N...``); otherwise the invalid characters are replaced and
    a short hash of the original is appended so that distinct ids never collide.
    """
    try:
        return check_execution_id(raw)
    except ValueError:
        pass
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
    cleaned = _ID_BAD_CHARS.sub("_", raw)[:60].strip("_")
    return check_execution_id(f"{cleaned}-{digest}" if cleaned else f"wh-{digest}")


def event_type(hook: WebhookDef, payload: Any) -> str | None:
    """The payload's event type (JMESPath ``hook.type_key``), or ``None``."""
    try:
        found = jmespath.search(hook.type_key, payload)
    except jmespath.exceptions.JMESPathError:
        return None
    return found if isinstance(found, str) else None


def route(hook: WebhookDef, payload: Any) -> str | None:
    """The workflow for this payload: ``route[type]``, else ``route["*"]``, else ``None`` (ignored)."""
    kind = event_type(hook, payload)
    if kind is not None and kind in hook.route:
        return hook.route[kind]
    return hook.route.get("*")


def execution_id(hook: WebhookDef, payload: Any, body: bytes) -> str:
    """The execution id of a delivery: the event's ``id``, else the SHA-256 of the raw body."""
    raw_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id):
        return sanitize_execution_id(str(raw_id))
    return hashlib.sha256(body).hexdigest()


def workflow_input(hook: WebhookDef, payload: Any) -> Any:
    """What the routed workflow gets: ``event["data"]`` for Stripe, the whole payload for ``hmac``."""
    if hook.provider == "stripe":
        return payload.get("data") if isinstance(payload, dict) else None
    return payload


@dataclass(frozen=True)
class Delivery:
    """What to start for one verified webhook request."""

    workflow: str
    input: Any
    execution_id: str
    event_type: str | None


def plan_delivery(hook: WebhookDef, payload: Any, body: bytes) -> Delivery | None:
    """The execution to start for a verified ``payload``, or ``None`` when its type is not routed."""
    workflow = route(hook, payload)
    if workflow is None:
        return None
    return Delivery(workflow=workflow, input=workflow_input(hook, payload),
                    execution_id=execution_id(hook, payload, body), event_type=event_type(hook, payload))


__all__ = [
    "Delivery",
    "SignatureError",
    "hmac_signature",
    "parse_stripe_header",
    "plan_delivery",
    "sanitize_execution_id",
    "stripe_signature",
    "verify_hmac",
    "verify_request",
    "verify_stripe",
]
