from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud

BACKENDS = ["memory", "moto"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_on_single_event_detail_is_input(backend):
    app = App("t")

    @app.workflow("fulfill-order")
    async def fulfill(ctx: Context, order: dict) -> dict:
        return order

    app.on("Order.created", fulfill)
    with LocalCloud(app, backend=backend) as cloud:
        c = cloud.client()
        c.send_event("Order.created", {"id": "o1"})
        ex = c.list(workflow="fulfill-order")
        assert len(ex) == 1 and ex[0].status == "SUCCEEDED" and ex[0].result == {"id": "o1"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_on_multiple_events(backend):
    app = App("t")

    @app.workflow("customer-onboarding")
    async def onboarding(ctx: Context, user: dict) -> dict:
        return user

    app.on(["User.registered", "User.verified"], onboarding)
    with LocalCloud(app, backend=backend) as cloud:
        c = cloud.client()
        c.send_event("User.registered", {"id": "u1"})
        c.send_event("User.verified", {"id": "u2"})
        c.send_event("User.deleted", {"id": "u3"})
        assert sorted(e.result["id"] for e in c.list(workflow="customer-onboarding")) == ["u1", "u2"]


def test_on_input_jmespath():
    app = App("t")

    @app.workflow("w")
    async def w(ctx: Context, x: dict) -> dict:
        return x

    app.on("Order.created", w, input="detail.order")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Order.created", {"order": {"id": 1}})
        assert c.list(workflow="w")[0].result == {"id": 1}


def test_event_triggered_by_ctx_send():
    app = App("t")

    @app.workflow("downstream")
    async def downstream(ctx: Context, d: dict) -> dict:
        return d

    @app.workflow("upstream")
    async def upstream(ctx: Context) -> None:
        await ctx.send("Customer.registered", {"email": "a@b"})

    app.on("Customer.registered", downstream)
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.start("upstream").result()
        cloud.run_until_idle()
        ds = c.list(workflow="downstream")
        assert len(ds) == 1 and ds[0].result == {"email": "a@b"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_debounce_trailing_latest_event(backend):
    app = App("t")

    @app.workflow("search-index-update")
    async def upd(ctx: Context, d: dict) -> dict:
        return d

    app.on("Entity.updated", upd, debounce=timedelta(seconds=5), key="detail.entityId")
    with LocalCloud(app, backend=backend) as cloud:
        c = cloud.client()
        c.send_event("Entity.updated", {"entityId": "e1", "v": 1})
        cloud.advance(3)
        c.send_event("Entity.updated", {"entityId": "e1", "v": 2})
        c.send_event("Entity.updated", {"entityId": "e2", "v": 9})
        cloud.advance(3)
        assert c.list(workflow="search-index-update") == []
        cloud.advance(2.5)
        runs = c.list(workflow="search-index-update")
        assert sorted((r.result["entityId"], r.result["v"]) for r in runs) == [("e1", 2), ("e2", 9)]


def test_debounce_max_wait():
    app = App("t")

    @app.workflow("w")
    async def w(ctx: Context, d: dict) -> dict:
        return d

    app.on("E", w, debounce=5, key="detail.k", max_wait=12)
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        for i in range(10):
            c.send_event("E", {"k": "a", "i": i})
            cloud.advance(3)
            if c.list(workflow="w"):
                break
        runs = c.list(workflow="w")
        assert len(runs) == 1
        assert (cloud.now() - datetime(2026, 1, 5, 8, tzinfo=UTC)) <= timedelta(seconds=15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_daily_scheduled_time_input(backend):
    app = App("t")

    @app.workflow("daily-report")
    async def daily(ctx: Context, inp: dict) -> dict:
        return inp

    app.every("daily", at="09:00", workflow=daily, timezone="UTC")
    with LocalCloud(app, backend=backend) as cloud:  # default start Monday 08:00 UTC
        c = cloud.client()
        cloud.advance(timedelta(minutes=59))
        assert c.list(workflow="daily-report") == []
        cloud.advance(timedelta(minutes=1))
        runs = c.list(workflow="daily-report")
        assert len(runs) == 1
        st = runs[0].result["scheduled_time"]
        assert datetime.fromisoformat(st.replace("Z", "+00:00")) == datetime(2026, 1, 5, 9, tzinfo=UTC)
        cloud.advance(timedelta(days=2))
        assert len(c.list(workflow="daily-report")) == 3


def test_every_hourly_and_weekly():
    app = App("t")

    @app.workflow("hourly-sync")
    async def hs(ctx: Context, inp: dict) -> None:
        return None

    @app.workflow("weekly-thing")
    async def wt(ctx: Context, inp: dict) -> None:
        return None

    app.every("hourly", at=":30", workflow=hs)
    app.every("weekly", at="10:00", on="wednesday", workflow=wt)
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        cloud.advance(timedelta(hours=3))  # 08:00 -> 11:00: 08:30, 09:30, 10:30
        assert len(c.list(workflow="hourly-sync")) == 3
        cloud.advance(timedelta(days=7))
        assert len(c.list(workflow="weekly-thing")) == 1


def test_every_hourly_at_hhmm():
    app = App("t")

    @app.workflow("hs")
    async def hs(ctx: Context, inp: dict) -> None:
        return None

    app.every("hourly", at="00:15", workflow=hs)
    with LocalCloud(app, backend="memory") as cloud:
        cloud.advance(timedelta(hours=2))
        assert len(cloud.client().list(workflow="hs")) == 2


def test_every_timezone():
    app = App("t")

    @app.workflow("ny")
    async def ny(ctx: Context, inp: dict) -> dict:
        return inp

    app.every("daily", at="09:00", workflow=ny, timezone="America/New_York")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        cloud.advance(timedelta(hours=5, minutes=59))  # 13:59 UTC
        assert c.list(workflow="ny") == []
        cloud.advance(timedelta(minutes=1))  # 14:00 UTC = 09:00 EST
        assert len(c.list(workflow="ny")) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_schedule_cron_weekly_cleanup(backend):
    app = App("t")

    @app.workflow("weekly-cleanup")
    async def wc(ctx: Context, inp: dict) -> dict:
        return inp

    app.schedule("weekly-cleanup", "0 2 * * 0", wc)
    with LocalCloud(app, backend=backend) as cloud:
        c = cloud.client()
        cloud.advance(timedelta(days=5, hours=17, minutes=59))  # Sun 01:59
        assert c.list(workflow="weekly-cleanup") == []
        cloud.advance(timedelta(minutes=1))
        runs = c.list(workflow="weekly-cleanup")
        assert len(runs) == 1
        assert runs[0].result["scheduled_time"].startswith("2026-01-11T02:00")


def test_schedule_seed_list():
    app = App("t")
    wfs = {}
    for nm in ["daily-report", "weekly-cleanup", "hourly-sync"]:

        async def f(ctx: Context, inp: dict) -> None:
            return None

        f.__name__ = nm.replace("-", "_")
        wfs[nm] = app.workflow(nm)(f)
    for name, cron, wf in [
        ("daily-report", "0 9 * * *", wfs["daily-report"]),
        ("weekly-cleanup", "0 2 * * 0", wfs["weekly-cleanup"]),
        ("hourly-sync", "0 * * * *", wfs["hourly-sync"]),
    ]:
        app.schedule(name, cron, wf)
    with LocalCloud(app, backend="memory") as cloud:
        cloud.advance(timedelta(days=7))
        c = cloud.client()
        assert len(c.list(workflow="daily-report")) == 7
        assert len(c.list(workflow="weekly-cleanup")) == 1
        assert len(c.list(workflow="hourly-sync", limit=1000)) == 168


@pytest.mark.parametrize("backend", BACKENDS)
def test_deferred_start_at_and_delay(backend):
    app = App("t")

    @app.workflow("cart-reminder")
    async def cr(ctx: Context, cart: dict) -> dict:
        return cart

    with LocalCloud(app, backend=backend) as cloud:
        c = cloud.client()
        h1 = c.start("cart-reminder", {"n": 1}, delay=timedelta(hours=1))
        h2 = c.start("cart-reminder", {"n": 24}, at=cloud.now() + timedelta(hours=24))
        h3 = c.start("cart-reminder", {"n": 3}, delay=60)
        assert h1.status == "SCHEDULED" and h2.status == "SCHEDULED"
        assert c.describe(h1.execution_id).status == "SCHEDULED"
        c.cancel(h3.execution_id)
        assert c.describe(h3.execution_id).status == "CANCELLED"
        cloud.advance(timedelta(hours=1))
        assert h1.status == "SUCCEEDED" and h2.status == "SCHEDULED"
        cloud.advance(timedelta(hours=23))
        assert h2.status == "SUCCEEDED" and h2.result() == {"n": 24}
        assert c.describe(h3.execution_id).status == "CANCELLED"
        assert len(c.list(status="SCHEDULED")) == 0


def test_dynamic_scheduling_from_trigger_workflow():
    """Seed: on Cart.abandoned schedule reminders after 1h and 24h."""
    app = App("t")

    @app.workflow("cart-reminder")
    async def cr(ctx: Context, cart: dict) -> dict:
        return cart

    @app.workflow("cart-abandoned")
    async def ca(ctx: Context, cart: dict) -> None:
        await ctx.sleep(timedelta(hours=1))
        await ctx.child(cr, cart, name="r1")
        await ctx.sleep_until(ctx.now() + timedelta(hours=23))
        await ctx.child(cr, cart, name="r2")

    app.on("Cart.abandoned", ca)
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Cart.abandoned", {"cartId": "c1"})
        cloud.advance(timedelta(hours=1))
        assert len(c.list(workflow="cart-reminder")) == 1
        cloud.advance(timedelta(hours=23))
        assert len(c.list(workflow="cart-reminder")) == 2


def test_debounce_without_key_single_window():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context, d: dict) -> dict:
        return d

    app.on("E", w, debounce=timedelta(seconds=5))
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("E", {"k": 1})
        c.send_event("E", {"k": 2})
        cloud.advance(10)
        runs = c.list(workflow="w")
        assert len(runs) == 1 and runs[0].result == {"k": 2}


def test_weekly_mon_abbrev_and_schedule_timezone():
    app = App("s")

    @app.workflow("w")
    async def w(ctx: Context, i: dict) -> dict:
        return i

    @app.workflow("z")
    async def z(ctx: Context, i: dict) -> dict:
        return i

    app.every("weekly", at="09:00", on="mon", workflow=w)
    app.schedule("berlin", "30 10 * * *", z, timezone="Europe/Berlin")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        cloud.advance(timedelta(hours=1, minutes=30))  # 09:30 UTC = 10:30 Berlin (winter)
        assert len(c.list(workflow="w")) == 1
        assert len(c.list(workflow="z")) == 1
