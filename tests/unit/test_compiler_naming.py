"""Logical ids, physical names and determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stepbridge import config
from stepbridge.api.app import App
from stepbridge.compiler import naming
from stepbridge.compiler.discovery import load_app, split_target
from stepbridge.compiler.model import CompileOptions, build_model
from stepbridge.compiler.template import compile_app, compile_file
from stepbridge.errors import CompileError

ROOT = Path(__file__).parents[2]
APPS_DIR = ROOT / "tests" / "golden" / "apps"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("charge-payment", "ChargePayment"),
        ("charge_payment", "ChargePayment"),
        ("Order.created", "OrderCreated"),
        ("on-Order.created-fulfill-order", "OnOrderCreatedFulfillOrder"),
        ("/webhooks/stripe", "WebhooksStripe"),
        ("sendEmail", "SendEmail"),
        ("3d-secure", "3dSecure"),
        ("---", "X"),
    ],
)
def test_camel(name: str, expected: str) -> None:
    assert naming.camel(name) == expected


def test_camel_caps_length_with_a_hash() -> None:
    long = "-".join(["segment"] * 60)
    text = naming.camel(long)
    assert len(text) <= 170 and text.endswith(naming.short_hash(long))


def test_colliding_names_get_a_hash_suffix_and_reserve_derived_ids() -> None:
    ids = naming.LogicalIds(reserved=["StepXFunction"])
    first = ids.allocate("Step", "charge-payment", ("Function", "Role"))
    second = ids.allocate("Step", "charge_payment", ("Function", "Role"))
    assert first == "StepChargePayment"
    assert second == "StepChargePayment" + naming.short_hash("Step|charge_payment")
    assert ids.allocate("Step", "x", ("Function",)) != "StepX"  # fixed id already taken


def two_steps_that_camel_alike() -> App:
    app = App("collide")

    @app.workflow("wf")
    async def wf(ctx: Any) -> None:
        return None

    app.step(name="a.b")(lambda: None)
    app.step(name="a:b")(lambda: None)  # same CamelCase, and the same sanitised function name
    return app


def test_collision_in_function_names_is_an_error_but_ids_stay_unique() -> None:
    app = two_steps_that_camel_alike()
    with pytest.raises(CompileError, match=r"step 'a:b' and step 'a.b' would both get the function name"):
        build_model(app)


def test_logical_ids_are_unique_and_derived_from_names() -> None:
    app = App("ids")

    @app.workflow("wf")
    async def wf(ctx: Any) -> None:
        return None

    app.step(name="charge-payment")(lambda: None)
    app.step(name="charge_payment_v2")(lambda: None)
    app.on("Order.created", "wf", name="orchestrator")
    app.schedule("orchestrator", "0 * * * *", "wf")
    template = compile_app(app).template
    ids = list(template["Resources"])
    assert len(ids) == len(set(ids))
    assert "StepChargePaymentFunction" in ids and "StepChargePaymentV2Function" in ids
    assert "TriggerOrchestratorRule" in ids and "ScheduleOrchestrator" in ids
    assert all(len(i) <= 255 and i.isalnum() for i in ids)


# ---- physical names agree with stepbridge.config -------------------------------------------------


@pytest.mark.parametrize("stack", ["acme", "acme-prod", "a", "Stack-With-Caps-123"])
@pytest.mark.parametrize("step", ["charge-payment", "send_email", "v2.verify:card", "x"])
def test_template_function_name_equals_runtime_step_function_name(stack: str, step: str) -> None:
    app = App("names")

    @app.workflow("wf")
    async def wf(ctx: Any) -> None:
        return None

    app.step(name=step)(lambda: None)
    compiled = compile_app(app, CompileOptions(stack_name=stack))
    (function,) = [
        r
        for r in compiled.template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function" and "FunctionName" in r["Properties"]
    ]
    template_name = function["Properties"]["FunctionName"].template.replace("${AWS::StackName}", stack)
    assert template_name == config.step_function_name(stack, step)
    assert function["Properties"]["Environment"]["Variables"][config.ENV_STEP] == step


def test_max_stack_name_length_keeps_names_unshortened() -> None:
    steps = ["short", "a-much-longer-step-name-for-testing"]
    limit = naming.max_stack_name_length(steps)
    stack = "s" * limit
    for step in steps:
        name = config.step_function_name(stack, step)
        assert len(name) <= 64 and name == f"{stack}-{naming.sanitized_step(step)}"  # no hash shortening


# ---- discovery -----------------------------------------------------------------------------------


def test_split_target() -> None:
    assert split_target("functions/app.py:app") == (Path("functions/app.py"), "app")
    assert split_target("functions/app.py") == (Path("functions/app.py"), None)


def test_load_app_finds_the_single_app_and_module_name() -> None:
    loaded = load_app(str(APPS_DIR / "golden_orders.py"))
    assert loaded.app.name == "orders"
    assert loaded.app_ref == "golden_orders:app"
    loaded = load_app(str(APPS_DIR / "golden_orders.py:app"), code_dir=APPS_DIR.parent)
    assert loaded.app_ref == "apps.golden_orders:app"


def test_load_app_errors(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match="not found"):
        load_app(str(tmp_path / "nope.py"))
    (tmp_path / "two.py").write_text("from stepbridge.api.app import App\na = App('a')\nb = App('b')\n")
    with pytest.raises(CompileError, match="expected one App instance, found a, b"):
        load_app(str(tmp_path / "two.py"))
    (tmp_path / "boom.py").write_text("raise RuntimeError('kaput')\n")
    with pytest.raises(CompileError, match=r"importing .*boom\.py as module 'boom' failed: RuntimeError: kaput"):
        load_app(str(tmp_path / "boom.py"))
    with pytest.raises(CompileError, match="is not a stepbridge App"):
        load_app(str(tmp_path / "two.py") + ":App")


# ---- determinism ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["golden_orders", "golden_scheduled"])
def test_compile_twice_gives_identical_bytes(tmp_path: Path, name: str) -> None:
    first = compile_file(str(APPS_DIR / f"{name}.py"), tmp_path / "t.yaml").text.encode()
    second = compile_file(str(APPS_DIR / f"{name}.py"), tmp_path / "t.yaml").text.encode()
    assert first == second


def test_compile_is_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "12345"):
        out = tmp_path / seed / "template.yaml"
        out.parent.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "stepbridge.cli",
                "compile",
                str(APPS_DIR / "golden_orders.py"),
                "-o",
                str(out),
                "--no-package",
            ],
            check=True,
            env=env,
            cwd=ROOT,
            capture_output=True,
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
