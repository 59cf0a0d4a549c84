"""`stepbridge graph`: Mermaid flowcharts read statically from workflow source."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stepbridge.api.app import App
from stepbridge.compiler.discovery import load_app
from stepbridge.compiler.graph import mermaid
from stepbridge.errors import CompileError

APPS_DIR = Path(__file__).parents[1] / "golden" / "apps"

app = App("graphs")


@app.step(timeout=10)
def charge(order: dict[str, Any]) -> dict[str, Any]:
    return order


def reserve(items: list[Any]) -> list[Any]:
    return items


def refund(order: dict[str, Any]) -> None:
    return None


@app.workflow("saga")
async def saga_flow(ctx: Any, order: dict[str, Any]) -> None:
    async with ctx.saga() as saga:
        await ctx.step("charge", charge, order)
        saga.compensate(refund, order)
        await ctx.gather(*[ctx.step(f"notify-{i}", reserve, [i]) for i in order["items"]])
    while not order.get("done"):
        await ctx.sleep_until(order["at"])
    await ctx.map("send", order["items"], reserve, concurrency=5)
    if order.get("cancel"):
        raise ValueError("cancelled")


@app.workflow("plain")
async def plain(ctx: Any) -> int:
    total = 0
    for i in range(3):
        total += i  # no ctx call: the loop is left out
    await ctx.sleep(timedelta(minutes=5))
    return total


def test_workflow_flowchart_shapes_and_branches() -> None:
    loaded = load_app(str(APPS_DIR / "golden_orders.py"))
    text = mermaid(loaded.app, "process-payment")
    assert text.startswith("flowchart TD\n")
    assert '["reserve-inventory"]' in text  # inline step
    assert '[["charge-payment · λ charge-payment"]]' in text  # declared step: own Lambda
    assert '>"send Order.confirmed"]' in text
    assert '("except Exception")' in text and "-.->" in text  # error edges out of the try body
    assert "{\"order.get('vip')?\"}" in text
    assert "-->|yes|" in text and "-->|no|" in text
    assert '(["sleep timedelta(hours=1)"])' in text
    assert '{{"wait_for Approval.decided (timeout)"}}' in text
    assert "for item in order['items']" in text and "-->|each|" in text and "-->|done|" in text
    assert "[\"ship-{item['sku']}\"]" in text  # f-string step names keep their placeholders
    assert '[/"child: fulfill_order"/]' in text
    assert "--> fail" in text and "--> finish" in text


def test_gather_branches_are_parallel() -> None:
    loaded = load_app(str(APPS_DIR / "golden_orders.py"))
    lines = mermaid(loaded.app, "process-payment").splitlines()
    email = next(line.split("[")[0].strip() for line in lines if '"email · λ send-email"' in line)
    child = next(line.split("[")[0].strip() for line in lines if "child: fulfill_order" in line)
    loop_done = [line for line in lines if "-->|done|" in line]
    assert {line.split()[-1] for line in loop_done} == {email, child}  # both start from the loop exit


def test_saga_map_while_and_compensations() -> None:
    text = mermaid(app, "saga")
    assert "subgraph saga" in text and "\n    end" in text
    assert '[["charge · λ charge"]]' in text
    assert '["compensate: refund(order)"]' in text  # off the success path, on the saga's failure path
    assert "saga1 -.->|on failure| n3" in text and "n3 -.-> fail" in text and "n1 --> n2" in text
    assert '["notify-{i} (each)"]' in text
    assert "{\"while not order.get('done')\"}" in text
    assert '(["sleep until order[' in text
    assert "map send-0..n: reserve over order['items']" in text
    assert "-->|yes| fail" in text


def test_control_flow_without_operations_is_omitted() -> None:
    text = mermaid(app, "plain")
    assert "for i in range" not in text
    assert '(["sleep timedelta(minutes=5)"])' in text


def test_state_machine_name_prints_its_state_diagram() -> None:
    loaded = load_app(str(APPS_DIR / "golden_orders.py"))
    text = mermaid(loaded.app, "order")
    assert text.startswith("stateDiagram-v2")
    assert "draft --> pending: submit [guard]" in text


def test_unknown_name_lists_what_exists() -> None:
    with pytest.raises(
        CompileError, match=r"no workflow or state machine named 'nope'.*workflows: \['plain', 'saga'\]"
    ):
        mermaid(app, "nope")
