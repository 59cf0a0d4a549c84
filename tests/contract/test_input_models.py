"""Workflow and step inputs validated by their type hints (pydantic models defined anywhere,
scheduled and triggered inputs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from stepbridge import App, Context
from stepbridge.local import LocalCloud

from .contract_models import Customer


def test_local_pydantic_model_with_future_annotations_is_validated():
    """DESIGN: 'input validated by the type hint (pydantic)'. Model defined in a test function."""

    class Order(BaseModel):
        id: str
        total: float

    app = App("v")

    @app.workflow("w")
    async def w(ctx: Context, order: Order) -> float:
        return order.total

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w", {"id": "a", "total": "2.5"}).result() == 2.5


def test_local_pydantic_model_declared_step_arg():
    class Order(BaseModel):
        id: str
        total: float

    app = App("v")

    @app.step
    def charge(order: Order) -> dict:
        return {"charged": order.total}

    @app.workflow("w")
    async def w(ctx: Context, o: dict) -> dict:
        return await ctx.step("charge", charge, o)

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w", {"id": "a", "total": 3}).result() == {"charged": 3.0}


def test_scheduled_time_input_passed_to_typed_workflow():
    class Tick(BaseModel):
        scheduled_time: datetime

    app = App("s")

    @app.workflow("tick")
    async def tick(ctx: Context, t: dict) -> str:
        return t["scheduled_time"]

    app.every("hourly", at=":00", workflow=tick)
    with LocalCloud(app, backend="memory") as cloud:
        cloud.advance(timedelta(hours=1))
        r = cloud.client().list(workflow="tick")[0].result
        dt = datetime.fromisoformat(r.replace("Z", "+00:00"))
        assert dt == datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_trigger_typed_pydantic_input_from_detail():
    app = App("t")

    @app.workflow("onboard")
    async def onboard(ctx: Context, c: Customer) -> str:
        return c.email

    app.on("Customer.registered", onboard)
    with LocalCloud(app, backend="memory") as cloud:
        cl = cloud.client()
        cl.send_event("Customer.registered", {"email": "a@b", "name": "A"})
        assert cl.list(workflow="onboard")[0].result == "a@b"
