"""Unit tests of stepbridge/runtime/webhooks.py (signatures, tolerance, routing, ids) and
stepbridge/infra/secrets.py (SSM with a TTL cache, in moto)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stepbridge.api.app import WebhookDef
from stepbridge.infra.secrets import SsmSecrets
from stepbridge.runtime import webhooks
from stepbridge.runtime.executions import check_execution_id
from stepbridge.runtime.webhooks import (
    SignatureError,
    hmac_signature,
    parse_stripe_header,
    plan_delivery,
    sanitize_execution_id,
    stripe_signature,
    verify_hmac,
    verify_request,
    verify_stripe,
)

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SECRET = "whsec_unit"
BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}'


def stripe_hook(**kw: Any) -> WebhookDef:
    return WebhookDef(path="/webhooks/stripe", provider="stripe", route={"payment_intent.succeeded": "paid"},
                      secret=SECRET, **kw)


def hmac_hook(**kw: Any) -> WebhookDef:
    return WebhookDef(path="/webhooks/h", provider="hmac", route={"*": "all"}, secret=SECRET, **kw)


# ---- signing ---------------------------------------------------------------------------------------


def test_stripe_signature_matches_stripes_scheme():
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert stripe_signature(SECRET, BODY, T) == f"t={T},v1={expected}"
    assert stripe_signature(SECRET, BODY.decode(), NOW) == f"t={T},v1={expected}"  # str body, datetime t


def test_hmac_signature_scheme():
    assert hmac_signature(SECRET, BODY) == "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    with_ts = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert hmac_signature(SECRET, BODY, T) == "sha256=" + with_ts


# ---- Stripe verification -----------------------------------------------------------------------


def test_valid_stripe_signature_returns_its_timestamp():
    assert verify_stripe(SECRET, BODY, stripe_signature(SECRET, BODY, T), NOW) == T


def test_comparison_is_constant_time(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    header = stripe_signature(SECRET, BODY, T, extra=("0" * 64, "f" * 64))

    verify_stripe(SECRET, BODY, header, NOW)

    assert len(calls) == 3  # every v1 is compared, no early exit on the first match

    calls.clear()
    verify_hmac(SECRET, BODY, hmac_signature(SECRET, BODY), NOW)
    assert len(calls) == 1


def test_any_of_several_v1_values_may_match():
    good = stripe_signature(SECRET, BODY, T).split("v1=")[1]
    old = stripe_signature("whsec_old", BODY, T).split("v1=")[1]

    assert verify_stripe(SECRET, BODY, f"t={T},v1={old},v1={good}", NOW) == T
    # As stripe.WebhookSignature: no stripping, no case folding (tests/unit/test_webhook_stripe_oracle.py).
    with pytest.raises(SignatureError):
        verify_stripe(SECRET, BODY, f"t={T}, v1={good.upper()}, v0=ignored", NOW)
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_stripe(SECRET, BODY, f"t={T},v1={old},v1={'a' * 64}", NOW)


@pytest.mark.parametrize(
    ("offset", "ok"),
    # Future timestamps are accepted as Stripe's library does, up to a day (MAX_FUTURE_SKEW).
    [(0, True), (-300, True), (300, True), (-301, False), (301, True), (86_400, True), (86_401, False),
     (-86_400, False)],
)
def test_stripe_tolerance_edges(offset, ok):
    header = stripe_signature(SECRET, BODY, T + offset)
    if ok:
        assert verify_stripe(SECRET, BODY, header, NOW) == T + offset
    else:
        with pytest.raises(SignatureError, match=r"tolerance|future"):
            verify_stripe(SECRET, BODY, header, NOW)


def test_custom_tolerance():
    header = stripe_signature(SECRET, BODY, T - 60)

    assert verify_stripe(SECRET, BODY, header, NOW, tolerance=60) == T - 60
    with pytest.raises(SignatureError):
        verify_stripe(SECRET, BODY, header, NOW, tolerance=59)


def test_wrong_signature_is_reported_before_a_stale_timestamp():
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_stripe(SECRET, BODY, stripe_signature("other", BODY, T - 10_000), NOW)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (None, "missing"),
        ("", "missing"),
        (f"v1={'a' * 64}", "no timestamp"),
        (f"t={T}", "no v1"),
        (f"t=soon,v1={'a' * 64}", "non-numeric"),
        ("nonsense", "no timestamp"),
    ],
)
def test_malformed_stripe_headers(header, match):
    with pytest.raises(SignatureError, match=match):
        verify_stripe(SECRET, BODY, header, NOW)


def test_parse_stripe_header():
    assert parse_stripe_header(f"t={T},v1=aa,v0=zz,v1=bb") == (T, ["aa", "bb"])


def test_tampered_body_fails():
    with pytest.raises(SignatureError):
        verify_stripe(SECRET, BODY + b" ", stripe_signature(SECRET, BODY, T), NOW)


# ---- generic HMAC -----------------------------------------------------------------------------------


def test_hmac_without_timestamp():
    verify_hmac(SECRET, BODY, hmac_signature(SECRET, BODY), NOW)
    verify_hmac(SECRET, BODY, hmac_signature(SECRET, BODY).upper().replace("SHA256=", "sha256="), NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify_hmac(SECRET, BODY, hmac_signature("other", BODY), NOW)


@pytest.mark.parametrize("value", [None, "", "abc", "sha1=" + "0" * 40, "sha256=" + "0" * 63, "sha256=" + "g" * 64])
def test_hmac_malformed_signature(value):
    with pytest.raises(SignatureError):
        verify_hmac(SECRET, BODY, value, NOW, header_name="X-Sig")


@pytest.mark.parametrize(("offset", "ok"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)])
def test_hmac_timestamp_tolerance_edges(offset, ok):
    ts = T + offset
    signature = hmac_signature(SECRET, BODY, ts)
    if ok:
        verify_hmac(SECRET, BODY, signature, NOW, timestamp=str(ts))
    else:
        with pytest.raises(SignatureError, match="tolerance"):
            verify_hmac(SECRET, BODY, signature, NOW, timestamp=str(ts))


def test_hmac_timestamp_must_be_signed_and_numeric():
    with pytest.raises(SignatureError, match="does not match"):
        verify_hmac(SECRET, BODY, hmac_signature(SECRET, BODY), NOW, timestamp=str(T))
    with pytest.raises(SignatureError, match="unix seconds"):
        verify_hmac(SECRET, BODY, hmac_signature(SECRET, BODY, T), NOW, timestamp="yesterday")


def test_verify_request_reads_headers_case_insensitively():
    verify_request(stripe_hook(), {"stripe-signature": stripe_signature(SECRET, BODY, T)}, BODY, SECRET, NOW)
    hook = hmac_hook(signature_header="X-Hub-Signature-256")
    headers = {"x-hub-signature-256": hmac_signature(SECRET, BODY, T), "x-timestamp": str(T)}
    verify_request(hook, headers, BODY, SECRET, NOW)
    with pytest.raises(SignatureError):
        verify_request(hook, {"X-Signature": hmac_signature(SECRET, BODY)}, BODY, SECRET, NOW)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_request(hook, headers, BODY, SECRET, NOW + timedelta(seconds=301))


def test_verify_request_uses_the_hooks_tolerance():
    header = stripe_signature(SECRET, BODY, T - 30)
    verify_request(stripe_hook(tolerance=30), {"Stripe-Signature": header}, BODY, SECRET, NOW)
    with pytest.raises(SignatureError):
        verify_request(stripe_hook(tolerance=29), {"Stripe-Signature": header}, BODY, SECRET, NOW)


# ---- routing and execution ids ------------------------------------------------------------------------


def test_stripe_delivery_routes_by_type_and_passes_data():
    payload = {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}

    delivery = plan_delivery(stripe_hook(), payload, BODY)

    assert delivery is not None
    assert delivery.workflow == "paid"
    assert delivery.input == {"object": {"id": "pi_1"}}
    assert delivery.execution_id == "evt_1"
    assert delivery.event_type == "payment_intent.succeeded"
    assert plan_delivery(stripe_hook(), {**payload, "type": "customer.created"}, BODY) is None


def test_hmac_delivery_gets_the_whole_payload_and_falls_back_to_star():
    payload = {"kind": "x", "value": 1}

    delivery = plan_delivery(hmac_hook(), payload, b'{"kind": "x", "value": 1}')

    assert delivery is not None
    assert delivery.workflow == "all"
    assert delivery.input == payload
    assert delivery.execution_id == hashlib.sha256(b'{"kind": "x", "value": 1}').hexdigest()


def test_type_key_is_jmespath_and_specific_routes_win_over_star():
    hook = WebhookDef(path="/h", provider="hmac", route={"order.paid": "paid", "*": "other"}, secret=SECRET,
                      type_key="event.kind")

    assert webhooks.route(hook, {"event": {"kind": "order.paid"}}) == "paid"
    assert webhooks.route(hook, {"event": {"kind": "order.new"}}) == "other"
    assert webhooks.route(hook, {"event": "flat"}) == "other"
    assert webhooks.event_type(hook, {"event": {"kind": 3}}) is None


def test_numeric_ids_are_used():
    assert webhooks.execution_id(hmac_hook(), {"id": 42}, b"{}") == "42"
    assert webhooks.execution_id(hmac_hook(), {"id": True}, b"{}") == hashlib.sha256(b"{}").hexdigest()


@pytest.mark.parametrize("raw", ["evt_1NcY2BLkdIwHu7ixjuQvdHqS", "order-42", "a:b.c_d"])
def test_valid_ids_are_kept(raw):
    assert sanitize_execution_id(raw) == raw


@pytest.mark.parametrize("raw", ["order/42", "with space", "ünïcødé", "x" * 200, "///", "a" * 81])
def test_invalid_ids_are_sanitized(raw):
    cleaned = sanitize_execution_id(raw)

    assert check_execution_id(cleaned) == cleaned
    assert sanitize_execution_id(raw) == cleaned  # deterministic: a redelivery maps to the same execution


def test_sanitized_ids_do_not_collide():
    assert len({sanitize_execution_id(raw) for raw in ("a/b", "a b", "a_b", "a\\b")}) == 4


# ---- SSM secrets ------------------------------------------------------------------------------------


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_ssm_secrets_reads_decrypted_values_and_caches_them(ssm):
    ssm.put_parameter(Name="/app/secret", Value="one", Type="SecureString")
    now = [0.0]
    secrets = SsmSecrets(ttl=300, client=ssm, clock=lambda: now[0])

    assert secrets.get_secret("/app/secret") == "one"
    ssm.put_parameter(Name="/app/secret", Value="two", Type="SecureString", Overwrite=True)
    now[0] = 299.0
    assert secrets.get_secret("/app/secret") == "one"  # cached
    now[0] = 300.0
    assert secrets.get_secret("/app/secret") == "two"  # expired: read again


def test_ssm_secrets_missing_parameter_is_none_and_not_cached(ssm):
    secrets = SsmSecrets(client=ssm)

    assert secrets.get_secret("/app/none") is None
    ssm.put_parameter(Name="/app/none", Value="now-set", Type="SecureString")
    assert secrets.get_secret("/app/none") == "now-set"


def test_ssm_secrets_builds_its_own_client(ssm):
    ssm.put_parameter(Name="/app/own", Value="v", Type="SecureString")

    assert SsmSecrets().get_secret("/app/own") == "v"
