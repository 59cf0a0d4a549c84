"""Type hints that name classes defined inside a function (with ``from __future__ import annotations``)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from stepbridge import App, Context
from stepbridge.errors import ExecutionFailedError
from stepbridge.local import LocalCloud


def test_models_defined_in_a_function_still_validate_inputs_and_decode_results() -> None:
    class Order(BaseModel):
        id: str
        total: float

    class Receipt(BaseModel):
        order_id: str
        charged: float

    app = App("local-models")

    @app.step(timeout=30)
    def charge(order: Order) -> Receipt:
        assert isinstance(order, Order)  # the declared step gets the model, not a dict
        return Receipt(order_id=order.id, charged=order.total)

    def summarize(receipt: Receipt) -> str:  # an inline step defined in the same scope
        return f"{receipt.order_id}:{receipt.charged:g}"

    @app.workflow("pay")
    async def pay(ctx: Context, order: Order) -> str:
        receipt = await ctx.step("charge", charge, order)
        assert isinstance(receipt, Receipt)
        return str(await ctx.step("summarize", summarize, receipt))

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        assert client.start("pay", {"id": "o1", "total": "12.5"}).result() == "o1:12.5"  # "12.5" coerced
        with pytest.raises(ExecutionFailedError, match="total"):
            client.start("pay", {"id": "o2"}).result()  # validated: total is missing


FORWARD = App("forward")


@FORWARD.workflow("later")
async def later(ctx: Context, item: LaterItem) -> str:
    return type(item).__name__


class LaterItem(BaseModel):  # defined after the workflow that names it
    name: str


def test_a_hint_naming_a_class_defined_after_the_workflow_resolves_on_first_use() -> None:
    with LocalCloud(FORWARD, backend="memory") as cloud:
        assert cloud.client().start("later", {"name": "x"}).result() == "LaterItem"
