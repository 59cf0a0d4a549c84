"""Differential test: stepbridge's Stripe verification accepts and rejects exactly what the official
``stripe`` library's ``WebhookSignature.verify_header`` does (issue 13, "Webhooks").

Each case is (body, Stripe-Signature header, secret, seconds the clock is past ``T``); the oracle
runs with its clock pinned to the same instant. Before the fix 14 of these disagreed: future
timestamps, whitespace, uppercase hex, first versus last ``t=``, ``v1=<sig>=x``, a bare ``t``, empty
secrets, a body that is not UTF-8. The one deliberate difference - a timestamp more than a day in
the future, which Stripe's library accepts - has its own test below.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
import stripe
from stripe import _webhook as stripe_webhook

from stepbridge.runtime.webhooks import MAX_FUTURE_SKEW, SignatureError, verify_stripe

SECRET = "whsec_test_secret"
T = 1_767_600_000
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded","data":{"amount":5}}'


def sig(body: bytes | str = BODY, t: int | str = T, secret: str = SECRET) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()


GOOD = sig()
OTHER = sig(b"{}")
NOT_UTF8 = b"\xff\xfe"
UTF8 = '{"name":"Zoë ✓"}'

CASES: list[tuple[str, bytes, str | None, str, float]] = [
    ("valid", BODY, f"t={T},v1={GOOD}", SECRET, 0),
    ("wrong secret", BODY, f"t={T},v1={sig(secret='whsec_other')}", SECRET, 0),
    ("tampered body", BODY + b" ", f"t={T},v1={GOOD}", SECRET, 0),
    ("no header", BODY, None, SECRET, 0),
    ("empty header", BODY, "", SECRET, 0),
    ("301 s old", BODY, f"t={T},v1={GOOD}", SECRET, 301),
    ("exactly 300 s old", BODY, f"t={T},v1={GOOD}", SECRET, 300),
    ("301 s in the future", BODY, f"t={T},v1={GOOD}", SECRET, -301),
    ("an hour in the future", BODY, f"t={T},v1={GOOD}", SECRET, -3_600),
    ("exactly a day in the future", BODY, f"t={T},v1={GOOD}", SECRET, -86_400),
    ("uppercase hex", BODY, f"t={T},v1={GOOD.upper()}", SECRET, 0),
    ("trailing space in v1", BODY, f"t={T},v1={GOOD} ", SECRET, 0),
    ("space after the comma", BODY, f"t={T}, v1={GOOD}", SECRET, 0),
    ("space before t", BODY, f" t={T},v1={GOOD}", SECRET, 0),
    ("first t valid, second not", BODY, f"t={T},t={T + 5},v1={GOOD}", SECRET, 0),
    ("first t invalid, second valid", BODY, f"t={T + 5},t={T},v1={GOOD}", SECRET, 0),
    ("v1=<sig>=x", BODY, f"t={T},v1={GOOD}=x", SECRET, 0),
    ("one of several v1 matches", BODY, f"t={T},v1={OTHER},v1={GOOD}", SECRET, 0),
    ("only v0", BODY, f"t={T},v0={GOOD}", SECRET, 0),
    ("empty v1", BODY, f"t={T},v1=", SECRET, 0),
    ("non-numeric t", BODY, f"t=abc,v1={GOOD}", SECRET, 0),
    ("t with underscores", BODY, f"t={T:_},v1={GOOD}", SECRET, 0),
    ("t with a plus sign", BODY, f"t=+{T},v1={GOOD}", SECRET, 0),
    ("t with leading zeros", BODY, f"t=00{T},v1={GOOD}", SECRET, 0),
    ("t with spaces after =", BODY, f"t= {T} ,v1={GOOD}", SECRET, 0),
    ("a bare t item", BODY, f"t={T},v1={GOOD},t", SECRET, 0),
    ("garbage header", BODY, "garbage", SECRET, 0),
    ("signature of another body", BODY, f"t={T},v1={OTHER}", SECRET, 0),
    ("truncated signature", BODY, f"t={T},v1={GOOD[:-1]}", SECRET, 0),
    ("non-ASCII signature", BODY, f"t={T},v1={GOOD[:-1]}é", SECRET, 0),
    ("empty secret", BODY, f"t={T},v1={sig(secret='')}", "", 0),
    ("whitespace secret", BODY, f"t={T},v1={sig(secret='  ')}", "  ", 0),
    ("body not UTF-8", NOT_UTF8, f"t={T},v1={sig(NOT_UTF8)}", SECRET, 0),
    ("empty body", b"", f"t={T},v1={sig(b'')}", SECRET, 0),
    ("UTF-8 body", UTF8.encode(), f"t={T},v1={sig(UTF8)}", SECRET, 0),
    ("unknown extra item", BODY, f"t={T},v1={GOOD},foo=bar", SECRET, 0),
    ("v1 before t", BODY, f"v1={GOOD},t={T}", SECRET, 0),
    ("old and wrong", BODY, f"t={T},v1={OTHER}", SECRET, 301),
    ("trailing comma", BODY, f"t={T},v1={GOOD},", SECRET, 0),
    ("semicolons", BODY, f"t={T};v1={GOOD}", SECRET, 0),
    ("newline before v1", BODY, f"t={T}," + "\n" + f"v1={GOOD}", SECRET, 0),
    ("negative t", BODY, f"t=-1,v1={sig(t=-1)}", SECRET, 0),
    ("float t", BODY, f"t={T}.0,v1={GOOD}", SECRET, 0),
    ("uppercase T key", BODY, f"T={T},v1={GOOD}", SECRET, 0),
    ("uppercase V1 key", BODY, f"t={T},V1={GOOD}", SECRET, 0),
    ("secret with spaces around", BODY, f"t={T},v1={sig(secret=' ' + SECRET)}", " " + SECRET, 0),
    ("v1 signed over the non-canonical t", BODY, f"t=00{T},v1={sig(t='00' + str(T))}", SECRET, 0),
]


def stripe_accepts(body: bytes, header: str | None, secret: str, now: float, monkeypatch) -> bool:
    monkeypatch.setattr(stripe_webhook.time, "time", lambda: now)
    try:
        return bool(stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300))
    except Exception:  # SignatureVerificationError, and the UnicodeDecodeError/TypeError it lets through
        return False


def stepbridge_accepts(body: bytes, header: str | None, secret: str, now: float) -> bool:
    try:
        verify_stripe(secret, body, header, datetime.fromtimestamp(now, UTC), 300)
    except SignatureError:
        return False
    return True


def test_the_case_list_is_large_enough_and_covers_both_outcomes(monkeypatch):
    assert len(CASES) >= 36
    outcomes = {stripe_accepts(b, h, s, T + d, monkeypatch) for _, b, h, s, d in CASES}
    assert outcomes == {True, False}


@pytest.mark.parametrize(("name", "body", "header", "secret", "delta"), CASES, ids=[c[0] for c in CASES])
def test_accepts_exactly_what_the_stripe_library_accepts(monkeypatch, name, body, header, secret, delta):
    now = T + delta
    expected = stripe_accepts(body, header, secret, now, monkeypatch)

    assert stepbridge_accepts(body, header, secret, now) == expected, f"{name}: stripe says {expected}"


def test_the_one_deliberate_difference_timestamps_over_a_day_ahead(monkeypatch):
    now = T - MAX_FUTURE_SKEW - 1
    header = f"t={T},v1={GOOD}"

    assert stripe_accepts(BODY, header, SECRET, now, monkeypatch) is True
    assert stepbridge_accepts(BODY, header, SECRET, now) is False
