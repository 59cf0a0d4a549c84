from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from stepbridge import App, Context, Retry, State, StateMachine, Transition
from stepbridge.compiler import compile_app

ROOT = Path(__file__).resolve().parents[2]


def _app():
    app = App("acme")

    @app.step(timeout=45, memory=512, retry=Retry(max_attempts=3))
    async def charge_payment(order: dict) -> dict:
        return order

    @app.step
    def send_email(x: dict) -> None:
        return None

    @app.workflow("fulfill-order")
    async def fulfill(ctx: Context, order: dict) -> None:
        await ctx.step("charge-payment", charge_payment, order)

    @app.workflow("daily-report")
    async def daily(ctx: Context, i: dict) -> None:
        return None

    @app.workflow("paid")
    async def paid(ctx: Context, d: dict) -> None:
        return None

    app.on("Order.created", fulfill)
    app.on(["User.registered", "User.verified"], fulfill)
    app.on("Entity.updated", fulfill, debounce=timedelta(seconds=5), key="detail.entityId")
    app.every("daily", at="09:00", workflow=daily, timezone="UTC")
    app.schedule("weekly-cleanup", "0 2 * * 0", daily)
    app.webhook(
        "/webhooks/stripe", provider="stripe", secret_param="/acme/stripe", route={"payment_intent.succeeded": paid}
    )
    m = StateMachine("order", initial="a", states={"a": State(on={"go": Transition("b")}), "b": State()})
    app.state_machine(m, events={"Order.submitted": "go"}, key="detail.orderId")
    return app


def _resources():
    t = compile_app(_app()).template
    return t["Resources"]


def test_template_resource_kinds():
    res = _resources()
    kinds = Counter(r["Type"] for r in res.values())
    assert kinds["AWS::DynamoDB::Table"] == 1
    assert kinds["AWS::Events::EventBus"] >= 1
    assert kinds["AWS::Scheduler::Schedule"] >= 2
    assert kinds["AWS::SQS::Queue"] >= 1
    fns = [r for r in res.values() if r["Type"] == "AWS::Serverless::Function"]
    # 2 declared steps + orchestrator + router + api + (timer/sweeper)
    assert len(fns) >= 5


def test_declared_step_own_function_with_timeout_memory():
    res = _resources()
    fns = {k: r for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    charge = [r for r in fns.values() if r["Properties"].get("Timeout") == 45]
    assert len(charge) == 1
    assert charge[0]["Properties"]["MemorySize"] == 512


def test_fifo_queue():
    res = _resources()
    qs = [r for r in res.values() if r["Type"] == "AWS::SQS::Queue" and r["Properties"].get("FifoQueue")]
    assert qs


def test_event_rules_for_triggers():
    res = _resources()
    txt = compile_app(_app()).text
    assert "Order.created" in txt and "User.registered" in txt and "User.verified" in txt
    assert "Entity.updated" in txt  # state-machine events go via the router catch-all rule
    rules = [r for r in res.values() if r["Type"] == "AWS::Events::Rule"]
    fn_events = []
    for r in res.values():
        if r["Type"] == "AWS::Serverless::Function":
            for e in (r["Properties"].get("Events") or {}).values():
                if e["Type"] in ("EventBridgeRule", "CloudWatchEvent"):
                    fn_events.append(e)
    assert rules or fn_events


def test_schedules_cron():
    res = _resources()
    scheds = [r["Properties"] for r in res.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    exprs = sorted(s["ScheduleExpression"] for s in scheds)
    assert any("cron(0 9" in e for e in exprs), exprs
    assert any("cron(0 2" in e for e in exprs), exprs
    assert all(s.get("ScheduleExpressionTimezone") == "UTC" for s in scheds)


def test_webhook_route_in_api():
    txt = compile_app(_app()).text
    assert "/webhooks/stripe" in txt
    assert "/workflows/{name}/executions" in txt


def test_repo_template_is_fresh():
    r = subprocess.run(
        [str(ROOT / ".venv/bin/stepbridge"), "compile", "functions/app.py", "-o", "template.yaml", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_console_script_exists():
    r = subprocess.run([str(ROOT / ".venv/bin/stepbridge"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ["compile", "validate", "demo"]:
        assert cmd in r.stdout


def test_runtime_does_not_import_moto_or_compiler():
    code = (
        "import sys, stepbridge, stepbridge.handlers.orchestrator, stepbridge.handlers.step, "
        "stepbridge.handlers.router, stepbridge.handlers.api\n"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('moto','cfnlint','samtranslator') "
        "or m.startswith('stepbridge.compiler') or m.startswith('stepbridge.local')]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
