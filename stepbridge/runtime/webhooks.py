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

Replay protection
-----------------
Stripe requests carry a signed timestamp: older than ``tolerance`` is refused (401). For ``hmac``
without ``X-Timestamp`` there is no time to check, so replay protection is **dedupe by id**, and it
is enforced: the signature covers the whole body, the execution id is derived from the body alone
(its ``id``, else its SHA-256), and starts are idempotent by execution id. A replayed request -
seconds or months later - maps to the execution it already started and starts nothing new, for as
long as that execution's record is kept (an expiring record, once gone, no longer dedupes). Senders
that can should sign ``X-Timestamp`` too, which adds the window.

Execution ids: the (sanitized) event id; if that id already belongs to an execution of another
workflow or input (another route or event type reusing the id, or a client-started execution),
the id scoped by path and event type (:func:`scoped_execution_id`) instead of a 409.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import jmespath

from stepbridge.api.app import WebhookDef
from stepbridge.runtime.execution_ids import exec_id_for
from stepbridge.runtime.executions import check_execution_id

STRIPE_HEADER = "Stripe-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
DEFAULT_TOLERANCE = 300.0
#: Future timestamps: Stripe's library accepts any; stepbridge accepts up to a day ahead (clock skew of
#: any size a real sender has) and refuses beyond, the one deliberate difference from the library: a
#: signature dated months ahead would stay replayable for months, and LocalCloud's contract refuses a
#: wall-clock timestamp far from its virtual clock (tests/contract/test_http_webhooks.py).
MAX_FUTURE_SKEW = 86_400.0
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
    """Constant-time comparison against every candidate (no early exit), exact as Stripe compares:
    no stripping, no case folding. A non-ASCII candidate never matches (Stripe's ``compare_digest``
    raises on it, which rejects the request too)."""
    matched = False
    for candidate in candidates:
        if candidate.isascii():
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def _check_window(ts: int, now: datetime, tolerance: float, what: str) -> None:
    age = now.timestamp() - ts
    if abs(age) > tolerance:
        raise SignatureError(
            f"{what} {ts} is {abs(age):.0f} s {'old' if age > 0 else 'in the future'}, outside the "
            f"{tolerance:g} s tolerance (replayed or clock skew)"
        )


def check_secret(secret: str | None, where: str) -> str:
    """An empty (or whitespace-only) secret would make every signature forgeable: refuse it."""
    if not isinstance(secret, str) or not secret.strip(" \t\r\n\f\v"):
        raise SignatureError(f"{where}: the webhook secret is empty; set a non-empty secret")
    return secret


def parse_stripe_header(value: str) -> tuple[int, list[str]]:
    """``(t, [v1, ...])`` from a ``Stripe-Signature`` value, parsed exactly as the official ``stripe``
    library does (``stripe.WebhookSignature``): items split on ``,`` and then on the first two ``=``
    (so ``v1=<sig>=x`` carries ``<sig>``), keys compared without stripping, the *first* ``t`` wins and
    is read with Python's ``int()``; any malformed item named ``t`` or ``v1`` rejects the header.
    ``SignatureError`` when malformed."""
    items = [item.split("=", 2) for item in value.split(",")]
    if any(len(item) < 2 for item in items if item[0] in ("t", "v1")):
        raise SignatureError(f"{STRIPE_HEADER} has a 't' or 'v1' item without a value")
    stamps = [item[1] for item in items if item[0] == "t"]
    if not stamps:
        raise SignatureError(f"{STRIPE_HEADER} has no timestamp (t=...)")
    try:
        t = int(stamps[0])
    except ValueError:
        raise SignatureError(f"{STRIPE_HEADER} has a non-numeric timestamp") from None
    v1 = [item[1] for item in items if item[0] == "v1"]
    if not v1:
        raise SignatureError(f"{STRIPE_HEADER} has no v1 signature")
    return t, v1


def verify_stripe(secret: str, body: bytes | str, signature: str | None, now: datetime,
                  tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Check a Stripe signature header for ``body``; returns its timestamp or raises ``SignatureError``.

    Accepts and rejects exactly what ``stripe.WebhookSignature.verify_header`` does (the
    differential test in tests/unit/test_webhook_stripe_oracle.py uses it as the oracle): only
    timestamps older than ``tolerance`` are refused - a timestamp in the future is accepted, as
    Stripe does, up to :data:`MAX_FUTURE_SKEW` (the one deliberate difference) - and ``tolerance=0``
    disables both checks.
    """
    if not signature:
        raise SignatureError(f"the {STRIPE_HEADER} header is missing")
    check_secret(secret, "stripe")
    raw = _raw(body)
    try:
        raw.decode("utf-8")  # Stripe signs the text of the body
    except UnicodeDecodeError:
        raise SignatureError("the webhook body is not UTF-8 text, so no Stripe signature can match it") from None
    t, candidates = parse_stripe_header(signature)
    expected = _hmac_hex(secret, f"{t}.".encode() + raw)
    if not _any_match(expected, candidates):
        raise SignatureError(f"no v1 signature in {STRIPE_HEADER} matches the payload")
    if tolerance and t < now.timestamp() - tolerance:
        raise SignatureError(
            f"signature timestamp {t} is {now.timestamp() - t:.0f} s old, outside the {tolerance:g} s "
            "tolerance (a replayed delivery, or clock skew)"
        )
    if tolerance and t > now.timestamp() + MAX_FUTURE_SKEW:
        raise SignatureError(
            f"signature timestamp {t} is {t - now.timestamp():.0f} s in the future, more than the "
            f"{MAX_FUTURE_SKEW:g} s of clock skew accepted"
        )
    return t


def verify_hmac(secret: str, body: bytes | str, signature: str | None, now: datetime, *,
                timestamp: str | None = None, tolerance: float = DEFAULT_TOLERANCE,
                header_name: str = "X-Signature") -> None:
    """Check a ``sha256=<hex>`` signature of ``body`` (or of ``f"{timestamp}.{body}"``); raises ``SignatureError``."""
    if not signature:
        raise SignatureError(f"the {header_name} header is missing")
    check_secret(secret, "hmac")
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
    if not _any_match(_hmac_hex(secret, message), [digest.lower()]):
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


def event_type(hook: WebhookDef, payload: object) -> str | None:
    """The payload's event type (JMESPath ``hook.type_key``), or ``None``."""
    try:
        found = jmespath.search(hook.type_key, payload)
    except jmespath.exceptions.JMESPathError:
        return None
    return found if isinstance(found, str) else None


def route(hook: WebhookDef, payload: object) -> str | None:
    """The workflow for this payload: ``route[type]``, else ``route["*"]``, else ``None`` (ignored)."""
    kind = event_type(hook, payload)
    if kind is not None and kind in hook.route:
        return hook.route[kind]
    return hook.route.get("*")


def execution_id(hook: WebhookDef, payload: object, body: bytes) -> str:
    """The execution id of a delivery: the event's ``id``, else the SHA-256 of the raw body."""
    raw_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id):
        return sanitize_execution_id(str(raw_id))
    return hashlib.sha256(body).hexdigest()


def scoped_execution_id(hook: WebhookDef, kind: str | None, primary: str) -> str:
    """The fallback execution id of a delivery whose ``primary`` id (the event id) is taken by another
    execution: scoped by the webhook's path and the event type, hashed as trigger ids are
    (``wh-{sha256(path|type)[:10]}-{id}``, the id itself hashed when the result would pass 80 chars).
    A redelivery of the same event computes the same id, so it still starts nothing new."""
    scope = hashlib.sha256(f"{hook.path}|{kind or ''}".encode()).hexdigest()[:10]
    return check_execution_id(exec_id_for(f"wh-{scope}", primary))


def workflow_input(hook: WebhookDef, payload: object) -> object:
    """What the routed workflow gets: ``event["data"]`` for Stripe, the whole payload for ``hmac``."""
    if hook.provider == "stripe":
        return payload.get("data") if isinstance(payload, dict) else None
    return payload


@dataclass(frozen=True)
class Delivery:
    """What to start for one verified webhook request."""

    workflow: str
    input: object
    execution_id: str
    event_type: str | None
    #: Where the execution goes when ``execution_id`` already belongs to another workflow or input.
    scoped_id: str = ""


def plan_delivery(hook: WebhookDef, payload: object, body: bytes) -> Delivery | None:
    """The execution to start for a verified ``payload``, or ``None`` when its type is not routed."""
    workflow = route(hook, payload)
    if workflow is None:
        return None
    primary = execution_id(hook, payload, body)
    kind = event_type(hook, payload)
    return Delivery(workflow=workflow, input=workflow_input(hook, payload), execution_id=primary,
                    event_type=kind, scoped_id=scoped_execution_id(hook, kind, primary))


__all__ = [
    "Delivery",
    "SignatureError",
    "hmac_signature",
    "parse_stripe_header",
    "plan_delivery",
    "sanitize_execution_id",
    "scoped_execution_id",
    "stripe_signature",
    "verify_hmac",
    "verify_request",
    "verify_stripe",
]
