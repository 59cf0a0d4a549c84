"""Declared secrets and environment under LocalCloud: ``stepbridge.secret`` reads exactly what the running
function declared (a declared step's own, or the App's for inline steps), and a step sees its
``environment=`` in ``os.environ`` during its run only."""

from __future__ import annotations

import os

import pytest

from stepbridge import App, Context, SecretNotDeclared, secret
from stepbridge.local import LocalCloud

SM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme/bank-token-AbC123"


def _app() -> App:
    app = App("cfg", secrets={"AUDIT_KEY": "/cfg/audit"}, environment={"REGION_LABEL": "eu"})

    @app.step(secrets={"STRIPE_KEY": "/cfg/stripe/api-key", "BANK": SM_ARN}, environment={"PAYMENTS_URL": "https://pay"})
    def charge(amount: int) -> dict:
        return {
            "key": secret("STRIPE_KEY"),
            "bank": secret("BANK"),
            "url": os.environ.get("PAYMENTS_URL"),
            "orchestrator_env": os.environ.get("REGION_LABEL"),
        }

    @app.step
    def sneaky() -> str:
        return secret("STRIPE_KEY")  # declared by `charge`, not by this step

    @app.workflow("pay")
    async def pay(ctx: Context, amount: int) -> dict:
        out = await ctx.step("charge", charge, amount)
        out["audit"] = await ctx.step("audit", lambda: secret("AUDIT_KEY"))  # inline: the App's secrets
        out["inline_env"] = await ctx.step("env", lambda: os.environ.get("REGION_LABEL"))
        out["inline_step_env"] = await ctx.step("env2", lambda: os.environ.get("PAYMENTS_URL"))
        return out

    @app.workflow("steal")
    async def steal(ctx: Context) -> str:
        return await ctx.step("sneaky", sneaky)

    @app.workflow("steal-inline")
    async def steal_inline(ctx: Context) -> str:
        return await ctx.step("peek", lambda: secret("STRIPE_KEY"))

    return app


@pytest.mark.parametrize("backend", ["moto", "memory"])
def test_steps_read_their_declared_secrets_and_environment(backend: str) -> None:
    with LocalCloud(_app(), backend=backend) as cloud:
        cloud.set_secret("/cfg/stripe/api-key", "sk_test_123")
        cloud.set_secret(SM_ARN, "bank-token-v1")
        cloud.set_secret("/cfg/audit", "audit-v1")
        result = cloud.client().start("pay", 10, execution_id="p1").result()
        assert result == {
            "key": "sk_test_123",
            "bank": "bank-token-v1",
            "url": "https://pay",
            "orchestrator_env": None,  # the App's environment is the orchestrator's, not the step's
            "audit": "audit-v1",
            "inline_env": "eu",
            "inline_step_env": None,
        }
        assert "PAYMENTS_URL" not in os.environ and "REGION_LABEL" not in os.environ  # restored after each run
        # a new value is seen by the next run (set_secret clears the cache)
        cloud.set_secret("/cfg/stripe/api-key", "sk_test_456")
        assert cloud.client().start("pay", 10, execution_id="p2").result()["key"] == "sk_test_456"


@pytest.mark.parametrize("workflow", ["steal", "steal-inline"])
def test_an_undeclared_secret_fails_the_step_without_retries(workflow: str) -> None:
    with LocalCloud(_app()) as cloud:
        cloud.set_secret("/cfg/stripe/api-key", "sk_test_123")
        client = cloud.client()
        handle = client.start(workflow, execution_id="s1")
        with pytest.raises(Exception, match=r"SecretNotDeclared|not declared"):
            handle.result()
        desc = client.describe("s1")
        assert desc.status == "FAILED"
        assert desc.error["type"].endswith("SecretNotDeclared")
        assert "STRIPE_KEY" in desc.error["message"] and "declared: " in desc.error["message"]
        attempts = [e for e in client.history("s1") if e.detail_type == "Step.attempt_failed"]
        assert len(attempts) <= 1  # NonRetryableError: no second attempt


def test_secret_outside_any_function_is_not_declared() -> None:
    with pytest.raises(SecretNotDeclared, match="not declared by the orchestrator"):
        secret("ANYTHING")
