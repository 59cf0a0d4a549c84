"""The smallest app: one workflow with an inline step, no declared steps, triggers or schedules."""

from stepbridge.api.app import App

app = App("minimal")


def make_greeting(name: str) -> str:
    return f"hello {name}"


@app.workflow("hello")
async def hello(ctx, name: str) -> str:
    return await ctx.step("greet", make_greeting, name)
