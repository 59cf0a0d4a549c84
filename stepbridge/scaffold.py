"""``stepbridge init``: a new project outside this repository, whose tests pass at once.

The project is laid out like this repository's example (``functions/`` is the SAM CodeUri and
holds ``app.py``), so ``stepbridge compile``, ``stepbridge validate`` and ``pytest`` work in it
with their defaults. Nothing here is imported by the runtime.
"""

from __future__ import annotations

import re
from pathlib import Path

from stepbridge.errors import StepbridgeError


class ScaffoldError(StepbridgeError):
    """The project cannot be created where asked."""


_APP = '''"""The {name} app. This folder is the SAM CodeUri: every Lambda function loads ``app:app`` from here."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from stepbridge import App, Context, Retry

app = App("{name}")


class Order(BaseModel):
    """A workflow's input is validated by its type hint."""

    order_id: str
    amount: float


@app.step(timeout=30, memory=256, retry=Retry(max_attempts=3, backoff="exponential", initial_delay=1.0))
def charge(order: Order) -> dict[str, object]:
    """A declared step: its own Lambda function. Call your payment provider here."""
    return {{"order_id": order.order_id, "charged": order.amount}}


def follow_up(order_id: str) -> str:
    """An inline step: runs in the orchestrator; its result is journaled and never recomputed."""
    return f"asked how order {{order_id}} went"


@app.workflow("process-order")
async def process_order(ctx: Context, order: Order) -> dict[str, object]:
    """Charge, announce it, wait a day (a durable timer: nothing runs meanwhile), follow up."""
    payment = await ctx.step("charge", charge, order)
    await ctx.send("Order.charged", {{"order_id": order.order_id, "amount": order.amount}})
    await ctx.sleep(timedelta(days=1))
    note = await ctx.step("follow-up", follow_up, order.order_id)
    return {{"payment": payment, "note": note}}


app.on("Order.placed", process_order)  # an EventBridge rule on the app's bus starts it
'''

_TESTS = '''"""Tests on LocalCloud (moto inside, virtual clock) through the stepbridge pytest plugin.

The plugin gives each test a fresh ``cloud`` and its ``client``; pyproject.toml names the app
(``stepbridge_app``) and the plugin puts functions/ on sys.path, so ``import app`` works here.
"""

from datetime import timedelta

from app import Order, app


def test_the_app_has_its_workflow() -> None:
    assert app.name == "{name}" and "process-order" in app.workflows
    assert Order(order_id="o-1", amount=1).amount == 1.0


def test_an_order_is_charged_then_followed_up_a_day_later(cloud, client) -> None:
    handle = client.start("process-order", {{"order_id": "o-1", "amount": 12.5}}, execution_id="order-o-1")
    assert client.describe(handle.execution_id).status == "RUNNING"  # asleep for a day of virtual time
    assert [e.detail for e in cloud.events if e.detail_type == "Order.charged"] == [
        {{"order_id": "o-1", "amount": 12.5}}
    ]
    cloud.advance(timedelta(days=1))
    assert handle.result() == {{
        "payment": {{"order_id": "o-1", "charged": 12.5}},
        "note": "asked how order o-1 went",
    }}


def test_an_event_starts_the_workflow(client) -> None:
    client.send_event("Order.placed", {{"order_id": "o-2", "amount": 3}})
    (run,) = client.list(workflow="process-order")
    assert run.status == "RUNNING"


def test_a_failing_charge_is_retried(cloud, client) -> None:
    attempts = []

    def flaky(order):
        attempts.append(order)
        if len(attempts) < 3:
            raise ConnectionError("payment provider unavailable")
        return {{"order_id": "o-3", "charged": 5.0}}

    cloud.mock_step("charge", flaky)
    handle = client.start("process-order", {{"order_id": "o-3", "amount": 5}})
    assert handle.result()["payment"] == {{"order_id": "o-3", "charged": 5.0}}
    assert len(attempts) == 3
'''

_PYPROJECT = '''[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["stepbridge[local]"]

[tool.setuptools]
packages = []

[tool.pytest.ini_options]
testpaths = ["tests"]
stepbridge_app = "functions/app.py:app"
addopts = "-p no:cacheprovider"
filterwarnings = ["ignore::DeprecationWarning:botocore.*", "ignore::DeprecationWarning:moto.*"]
'''

_SAMCONFIG = '''# `sam build && sam deploy` read these (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html)
version = 0.1

[default.global.parameters]
stack_name = "{name}"

[default.build.parameters]
cached = true

[default.deploy.parameters]
capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"
confirm_changeset = true
resolve_s3 = true
'''

_README = '''# {name}

A durable workflow app on AWS Lambda, made with stepbridge.

```
pytest                       # the tests, offline on LocalCloud (moto, virtual clock)
stepbridge run process-order --input '{{"order_id": "o-1", "amount": 12.5}}' --show
stepbridge compile           # functions/app.py -> template.yaml (+ the runtime layer folder)
stepbridge validate          # SAM transform, cfn-lint and a stack in moto, all offline
sam build && sam deploy      # needs the AWS SAM CLI and credentials; settings in samconfig.toml
```

- `functions/app.py`: the app; `functions/` is the SAM CodeUri (put more modules beside it).
- `tests/test_app.py`: tests using the stepbridge pytest plugin's `cloud` and `client` fixtures.
- `pyproject.toml`: names the app for the plugin (`stepbridge_app`).

`template.yaml` and `.stepbridge-build/` are generated: edit the Python, then compile again.
'''

_GITIGNORE = """__pycache__/
.aws-sam/
.stepbridge-build/
.pytest_cache/
"""


def app_name(text: str) -> str:
    """A valid ``App`` name (lowercase letters, digits and dashes; 32 at most) from a folder name."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:32].rstrip("-")
    if not name:
        raise ScaffoldError(f"cannot make an app name of {text!r}; pass --name with letters, digits and dashes")
    return name


def files(name: str) -> dict[str, str]:
    """The project's files by relative path."""
    return {
        "functions/app.py": _APP.format(name=name),
        "tests/test_app.py": _TESTS.format(name=name),
        "pyproject.toml": _PYPROJECT.format(name=name),
        "samconfig.toml": _SAMCONFIG.format(name=name),
        "README.md": _README.format(name=name),
        ".gitignore": _GITIGNORE,
    }


def create_project(directory: str | Path, name: str | None = None) -> tuple[Path, str, list[str]]:
    """Write a new project into ``directory`` (new or empty); returns it, the app name and the files."""
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not an empty folder; choose a new project folder")
    app = app_name(name or target.resolve().name)
    written = []
    for relative, text in files(app).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(relative)
    return target, app, written
