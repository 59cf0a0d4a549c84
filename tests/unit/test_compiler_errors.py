"""Compile-time errors: each is a CompileError/WorkflowDefinitionError naming what to fix."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from stepbridge.api.app import App, ScheduleDef, StepDef, TriggerDef, WebhookDef
from stepbridge.api.machine import State, StateMachine, Transition
from stepbridge.compiler.model import CompileOptions
from stepbridge.compiler.template import compile_app
from stepbridge.errors import CompileError, WorkflowDefinitionError


def make_app(name: str = "errs") -> App:
    app = App(name)

    @app.workflow("process-order")
    async def process_order(ctx: Any, order: dict[str, Any]) -> None:
        return None

    @app.step(timeout=30)
    def charge(order: dict[str, Any]) -> None:
        return None

    return app


def compile_error(app: App, options: CompileOptions | None = None) -> str:
    with pytest.raises(CompileError) as info:
        compile_app(app, options)
    message = str(info.value)
    assert message.startswith(f"cannot compile app '{app.name}':")
    return message


# ---- duplicate names -----------------------------------------------------------------------------


def test_duplicate_workflow_name_is_rejected_at_registration() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match="workflow 'process-order' is defined twice"):

        @app.workflow("process-order")
        async def again(ctx: Any) -> None:
            return None


def test_duplicate_step_name_is_rejected_at_registration() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match="step 'charge' is declared twice"):
        app.step(name="charge")(lambda order: None)


def test_steps_whose_function_names_collide() -> None:
    app = make_app()
    app.step(name="send_email")(lambda to: None)
    app.step(name="send-email")(lambda to: None)
    message = compile_error(app)
    assert "step 'send_email' and step 'send-email' would both get the function name '<stack>-send-email'" in message


def test_duplicate_trigger_schedule_and_webhook_names() -> None:
    app = make_app()
    trigger = app.on("Order.created", "process-order")
    app.triggers.append(trigger)
    schedule = app.schedule("nightly", "0 2 * * *", "process-order")
    app.schedules.append(schedule)
    hook = app.webhook("/hooks/a", secret="s", workflow="process-order")
    app.webhooks.append(hook)
    message = compile_error(app)
    assert "trigger 'on-Order.created-process-order' is defined more than once" in message
    assert "schedule 'nightly' is defined more than once" in message
    assert "webhook path '/hooks/a' is defined more than once" in message


# ---- cron, at=, timezone -------------------------------------------------------------------------


def test_invalid_cron_in_a_schedule_def() -> None:
    app = make_app()
    app.schedules.append(ScheduleDef(name="broken", cron="0 25 * * *", workflow="process-order"))
    message = compile_error(app)
    assert "schedule 'broken' (workflow 'process-order'): invalid cron expression '0 25 * * *'" in message
    assert "hour field: 25 is outside 0-23" in message


def test_cron_with_both_day_fields_cannot_be_compiled() -> None:
    app = make_app()
    # valid cron (the 1st OR any Friday) that Scheduler cannot express: refused when declared ...
    with pytest.raises(WorkflowDefinitionError, match=r"schedule 'payday' \(workflow 'process-order'\).*needs one "):
        app.schedule("payday", "0 9 1 * 5", "process-order")
    assert app.schedules == []
    # ... and by the compiler for a definition made by hand
    app.schedules.append(ScheduleDef(name="payday", cron="0 9 1 * 5", workflow="process-order"))
    message = compile_error(app)
    assert "schedule 'payday'" in message
    assert "EventBridge Scheduler needs one of them to be '?'" in message


def test_invalid_at_time() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match=r"schedule for workflow 'process-order': at='9:75'"):
        app.every("daily", at="9:75", workflow="process-order")


def test_invalid_timezone() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match=r"schedule 'tz'.*unknown timezone 'Europe/Atlantis'"):
        app.schedule("tz", "0 9 * * *", "process-order", timezone="Europe/Atlantis")
    app.schedules.append(ScheduleDef(name="tz2", cron="0 9 * * *", workflow="process-order", timezone="Nowhere/City"))
    assert "schedule 'tz2' (workflow 'process-order'): unknown timezone 'Nowhere/City'" in compile_error(app)


# ---- steps ---------------------------------------------------------------------------------------


def test_step_timeout_above_lambda_maximum() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match=r"step 'slow': timeout 901 s is outside Lambda's 1-900 s"):
        app.step(name="slow", timeout=901)(lambda: None)
    app.steps["slow"] = StepDef(name="slow", fn=lambda: None, timeout=3600)
    assert "step 'slow': timeout 3600 s is outside Lambda's 1-900 s range" in compile_error(app)


def test_step_memory_and_concurrency() -> None:
    app = make_app()
    app.steps["charge"] = replace(app.steps["charge"], memory=64, concurrency=0)
    message = compile_error(app)
    assert "step 'charge': memory 64 MB" in message
    assert "step 'charge': concurrency must be >= 1" in message


# ---- events --------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["", " Order.created", "x" * 129, "bad\ttab"])
def test_invalid_detail_types(event_type: str) -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match="not a valid EventBridge detail-type"):
        app.on(event_type, "process-order")
    app.triggers.append(TriggerDef(name="t", event_types=(event_type,), workflow="process-order"))
    message = compile_error(app)
    assert "trigger 't' (workflow 'process-order')" in message
    assert "not a valid EventBridge detail-type" in message


def test_invalid_content_filter() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match=r"at detail\.amount: must be an object or a non-empty list"):
        app.on("Order.created", "process-order", filter={"amount": 5, "currency": {}})
    app.triggers.append(TriggerDef(name="t", event_types=("Order.created",), workflow="process-order",
                                   filter={"currency": {}}))
    assert "trigger 't' (workflow 'process-order'): invalid EventBridge event pattern at detail.currency: is an " \
           "empty object" in compile_error(app)


def test_trigger_naming_an_unknown_workflow() -> None:
    app = make_app()
    app.on("Order.created", "proces-order")  # typo: registration cannot know yet
    message = compile_error(app)
    assert "trigger 'on-Order.created-proces-order' names unknown workflow 'proces-order'" in message
    assert "known workflows: ['process-order']" in message


def test_schedule_and_webhook_naming_unknown_workflows() -> None:
    app = make_app()
    app.schedule("nightly", "0 2 * * *", "nightly-job")
    app.webhook("/hooks/pay", secret="s", route={"paid": "on-paid"})
    message = compile_error(app)
    assert "schedule 'nightly' names unknown workflow 'nightly-job'" in message
    assert "webhook /hooks/pay (route 'paid') names unknown workflow 'on-paid'" in message


def test_webhook_path_clashing_with_the_api() -> None:
    app = make_app()
    app.webhooks.append(WebhookDef(path="/events", provider="hmac", route={"*": "process-order"}, secret="s"))
    app.webhooks.append(WebhookDef(path="/a//b", provider="hmac", route={"*": "process-order"}, secret="s"))
    message = compile_error(app)
    assert "webhook /events: the path clashes with the built-in API routes" in message
    assert "webhook /a//b: the path must be" in message


# ---- state machines ------------------------------------------------------------------------------


def machine() -> StateMachine:
    return StateMachine(
        "order",
        initial="draft",
        states={"draft": State(on={"submit": Transition("pending")}), "pending": State()},
    )


def test_transition_to_unknown_state_is_rejected_on_definition() -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        StateMachine("order", initial="draft", states={"draft": State(on={"submit": Transition("pendng")})})
    assert str(info.value) == (
        "state machine 'order': transition 'submit' from state 'draft' targets unknown state 'pendng'"
    )


def test_transition_to_unknown_state_is_caught_by_the_compiler() -> None:
    app = make_app()
    sm = machine()
    app.state_machine(sm, events={"Order.submitted": "submit"}, key="detail.orderId")
    # a machine mutated after registration (frozen dataclass, so only by force)
    object.__setattr__(sm, "states", {"draft": State(on={"submit": Transition("gone")})})
    assert "transition 'submit' from state 'draft' targets unknown state 'gone'" in compile_error(app)


def test_machine_event_mapping_to_unknown_machine_event() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match="maps to 'approve', which no transition uses"):
        app.state_machine(machine(), events={"Order.approved": "approve"}, key="detail.orderId")


# ---- names that cannot be deployed ---------------------------------------------------------------


def test_function_name_too_long_for_the_stack_name() -> None:
    app = make_app()
    app.step(name="reconcile-the-monthly-ledger-with-the-bank")(lambda: None)
    message = compile_error(app, CompileOptions(stack_name="acme-production-eu-west-1-blue"))
    assert "step 'reconcile-the-monthly-ledger-with-the-bank': its function name" in message
    assert "Lambda allows 64" in message
    # with a short stack name it compiles, and the header states the limit
    text = compile_app(app, CompileOptions(stack_name="acme")).text
    limit = 64 - 1 - len("reconcile-the-monthly-ledger-with-the-bank")
    assert f"Deploy with a stack name of at most {limit} characters" in text


def test_invalid_stack_name() -> None:
    assert "stack name 'my_stack' is invalid" in compile_error(make_app(), CompileOptions(stack_name="my_stack"))


def test_all_problems_are_reported_together() -> None:
    app = make_app()
    app.on("Order.created", "missing-a")
    app.schedules.append(ScheduleDef(name="s", cron="0 0 1 * 1", workflow="missing-b"))
    message = compile_error(app)
    assert message.count("\n  - ") == 3  # two unknown workflows + the day-field problem


def test_too_many_resources_for_one_stack() -> None:
    app = make_app()
    # Declared steps share a role and a log group: 2 resources each after the transform, so 150 fit
    # (tests/unit/test_deploy_scale.py) and 240 do not.
    for i in range(240):
        app.step(name=f"s{i}")(lambda: None)
    assert "above CloudFormation's 500" in compile_error(app)


def test_filter_that_is_not_json() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match="filter is not JSON"):
        app.on("Order.created", "process-order", filter={"at": [object()]})
    app.triggers.append(TriggerDef(name="t", event_types=("Order.created",), workflow="process-order",
                                   filter={"at": [object()]}))
    assert "filter is not JSON" in compile_error(app)
