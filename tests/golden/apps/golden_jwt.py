"""An app whose HTTP API accepts JWTs (a Cognito user pool) instead of SigV4, with one public webhook."""

from stepbridge.api.app import App, JwtAuth

app = App(
    "jwtshop",
    api_auth=JwtAuth(
        issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
        audience=["web-client-id", "mobile-client-id"],
        scopes=["orders/write"],
    ),
)


def ack(order: dict) -> dict:
    return {"acknowledged": order.get("id")}


@app.workflow("take-order")
async def take_order(ctx, order: dict) -> dict:
    return await ctx.step("ack", ack, order)


app.webhook(
    "/webhooks/shop", provider="hmac", secret_param="/jwtshop/webhook-secret", route={"order.placed": "take-order"}
)
