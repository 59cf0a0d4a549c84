"""Orders: declared steps, event triggers (filter, several types, debounce) and a state machine."""

from datetime import timedelta

from stepbridge.api.app import App
from stepbridge.api.machine import State, StateMachine, Transition
from stepbridge.api.retry import Retry

app = App("orders")


@app.step(timeout=60, memory=512, concurrency=5, retry=Retry(max_attempts=5))
async def charge_payment(order: dict) -> dict:
    """Charge the customer's card through the payment provider."""
    return {"charged": order["total"]}


@app.step(timeout=900)
def send_email(to: str, template: str) -> None:
    """Send one transactional email."""


def reserve(items: list) -> dict:
    return {"items": items}


def release(reservation: dict) -> None:
    return None


@app.workflow("process-payment")
async def process_payment(ctx, order: dict) -> dict:
    reservation = await ctx.step("reserve-inventory", reserve, order["items"])
    try:
        payment = await ctx.step("charge-payment", charge_payment, order)
        await ctx.send("Order.confirmed", {"order": order, "payment": payment})
    except Exception:
        await ctx.step("release-inventory", release, reservation)
        raise
    if order.get("vip"):
        await ctx.step("vip-email", send_email, order["email"], "vip")
    else:
        await ctx.sleep(timedelta(hours=1))
    approval = await ctx.wait_for("Approval.decided", match={"orderId": order["id"]}, timeout=timedelta(hours=48))
    for item in order["items"]:
        await ctx.step(f"ship-{item['sku']}", reserve, [item])
    _email, _fulfilled = await ctx.gather(
        ctx.step("email", send_email, order["email"], "done"), ctx.child(fulfill_order, order)
    )
    return {"success": True, "payment": payment, "approval": approval}


@app.workflow("fulfill-order")
async def fulfill_order(ctx, order: dict) -> None:
    await ctx.step("notify", send_email, order["email"], "fulfil")


@app.workflow()
async def handle_payment_issue(ctx, detail: dict) -> None:
    await ctx.step("alert", send_email, "ops@example.com", "payment-issue")


@app.workflow()
async def reindex(ctx, detail: dict) -> None:
    return None


app.on("Order.created", fulfill_order)
app.on(
    ["Payment.failed", "Payment.disputed"],
    handle_payment_issue,
    filter={"currency": ["EUR", "USD"], "amount": [{"numeric": [">", 100]}]},
)
app.on("Entity.updated", reindex, debounce=timedelta(seconds=5), key="detail.entityId")

order_machine = StateMachine(
    "order",
    initial="draft",
    states={
        "draft": State(on={"submit": Transition("pending", guard=lambda o: len(o["items"]) > 0)}),
        "pending": State(on={"pay": Transition("paid"), "cancel": Transition("cancelled")}),
        "paid": State(),
        "cancelled": State(),
    },
)
app.state_machine(order_machine, events={"Order.submitted": "submit", "Order.paid": "pay"}, key="detail.orderId")
