# no `from __future__ import annotations` here: the control case for test_input_models' local-model probes
from pydantic import BaseModel

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def test_local_model_without_future_annotations():
    class Order(BaseModel):
        id: str
        total: float

    app = App("v")

    @app.workflow("w")
    async def w(ctx: Context, order: Order) -> float:
        return order.total

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w", {"id": "a", "total": "2.5"}).result() == 2.5


class Fwd(BaseModel):
    id: str


def test_string_forward_ref_module_level():
    app = App("v")

    @app.workflow("w")
    async def w(ctx: Context, order: "Fwd") -> str:
        return order.id

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w", {"id": "a"}).result() == "a"
