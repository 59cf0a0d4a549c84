"""What AWS (or the first event) would reject is refused when the app is declared, naming the trigger.

JMESPath expressions (``input=``, ``key=``, a state machine's ``key``, a webhook's ``type_key``) are
compiled by ``app.on``/``app.state_machine``/``app.webhook``; cron and ``app.every`` expressions are
parsed and converted to EventBridge Scheduler's form by ``app.schedule``/``app.every``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, State, StateMachine, Transition
from stepbridge.api.app import TriggerDef
from stepbridge.compiler.template import compile_app
from stepbridge.errors import CompileError, WorkflowDefinitionError


def make_app() -> App:
    app = App("defs")

    @app.workflow("bill")
    async def bill(ctx: Context, order: dict[str, Any]) -> str:
        return "ok"

    return app


@pytest.mark.parametrize("expression", ["detail.", "detail.[", "detail..id", "foo bar", ""])
@pytest.mark.parametrize("option", ["input", "key"])
def test_bad_jmespath_in_a_trigger_is_refused_naming_the_trigger(option: str, expression: str) -> None:
    app = make_app()
    extra: dict[str, Any] = {"debounce": timedelta(seconds=5)} if option == "key" else {}
    with pytest.raises(WorkflowDefinitionError) as info:
        app.on("Order.created", "bill", **{option: expression}, **extra)
    message = str(info.value)
    assert message.startswith(f"trigger 'on-Order.created-bill' (workflow 'bill'): {option}= {expression!r} is not a "
                              "valid JMESPath expression")
    assert "\n" not in message and app.triggers == []


def test_good_jmespath_is_accepted() -> None:
    app = make_app()
    trigger = app.on("Order.created", "bill", input="detail.items[?price > `5`]", debounce=5, key="detail.orderId")
    assert trigger.input == "detail.items[?price > `5`]" and trigger.key == "detail.orderId"


def test_bad_jmespath_on_a_hand_made_trigger_fails_compile() -> None:
    app = make_app()
    app.triggers.append(TriggerDef("t", ("Order.created",), "bill", input="detail..x"))
    with pytest.raises(CompileError, match=r"trigger 't' \(workflow 'bill'\): input= 'detail\.\.x' is not a valid"):
        compile_app(app)


def test_bad_jmespath_key_of_a_state_machine_and_webhook_type_key() -> None:
    app = make_app()
    machine = StateMachine("order", initial="draft", states={
        "draft": State(on={"submit": Transition("done")}), "done": State()})
    with pytest.raises(WorkflowDefinitionError, match=r"state machine 'order': key= 'detail\.\[' is not a valid"):
        app.state_machine(machine, events={"Order.submitted": "submit"}, key="detail.[")
    assert app.machines == {}
    with pytest.raises(WorkflowDefinitionError, match=r"webhook /hooks/x: type_key= 'a b' is not a valid"):
        app.webhook("/hooks/x", workflow="bill", secret="s", type_key="a b")
    assert app.webhooks == []


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("rate(5 minutes)", "rate(...)/cron(...)/at(...) forms are not taken here"),
        ("cron(0 12 * * ? *)", "rate(...)/cron(...)/at(...) forms are not taken here"),
        ("0 9 1 * 5", "needs one of them to be '?'"),
        ("61 * * * *", "minute field: 61 is outside 0-59"),
        ("0 0 30 2 *", "never occurs"),
    ],
)
def test_cron_that_scheduler_would_reject_is_refused_when_the_schedule_is_declared(cron: str, problem: str) -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError) as info:
        app.schedule("nightly", cron, "bill")
    assert str(info.value).startswith("schedule 'nightly'") and problem in str(info.value)
    assert app.schedules == []


def test_every_is_checked_when_declared() -> None:
    app = make_app()
    with pytest.raises(WorkflowDefinitionError, match="on='funday' is not a weekday"):
        app.every("weekly", at="09:00", on="funday", workflow="bill")
    with pytest.raises(WorkflowDefinitionError, match="frequency 'fortnightly' is not supported"):
        app.every("fortnightly", workflow="bill")
    assert app.every("weekly", at="09:00", on="monday", workflow="bill").cron == "0 9 * * 1"
