"""Generated execution ids stay inside AWS's limits at any depth (issue 12; issue 13 reproduction 6).

An execution id is the SQS FIFO ``MessageGroupId`` of its wake-ups: 1-128 characters of letters, digits
and punctuation (SQS API reference, SendMessage). Ids the engine derives from another id (a child's
``{parent}.{op}``, ``continue_as_new``'s ``{id}~{n}``) must stay inside that at any depth, or on AWS the
execution is dead-lettered and stays RUNNING. Each case runs on the memory backend and on moto (where
LocalCloud rejects an invalid group id exactly as SQS does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime.execution_ids import MAX_EXECUTION_ID, child_execution_id, next_generation_id

#: SQS MessageGroupId: 1-128 of alphanumerics and punctuation !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~.
SQS_GROUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")

ID_80 = "order-" + "a" * 74
ID_128 = "customer-" + "b" * 119
LONG_OP = "reserve-inventory-for-the-warehouse-nearest-to-the-customer-address"


@pytest.fixture(params=["memory", "moto"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def nested_app() -> App:
    app = App("ids")

    @app.workflow("leaf")
    async def leaf(ctx: Context, n: int) -> dict[str, Any]:
        return {"leaf": n, "id": ctx.execution_id}

    @app.workflow("middle")
    async def middle(ctx: Context, n: int) -> dict[str, Any]:
        inner = await ctx.child(leaf, n + 1, name=f"{LONG_OP}-{n}")
        return {"middle": ctx.execution_id, "inner": inner}

    @app.workflow("outer")
    async def outer(ctx: Context, n: int) -> dict[str, Any]:
        inner = await ctx.child(middle, n + 1, name=f"{LONG_OP}-{n}")
        return {"outer": ctx.execution_id, "inner": inner}

    @app.workflow("top")
    async def top(ctx: Context, n: int) -> dict[str, Any]:
        inner = await ctx.child(outer, n + 1, name=f"{LONG_OP}-{n}")
        spaced = await ctx.child(leaf, 99, name="résumé check / step 1")
        return {"top": ctx.execution_id, "inner": inner, "spaced": spaced}

    @app.workflow("counter")
    async def counter(ctx: Context, n: int) -> Any:
        await ctx.step(f"work-{n}", lambda: n)
        if n < 20:
            await ctx.continue_as_new(n + 1)
        return {"done": n}

    return app


@pytest.fixture
def cloud(backend: str) -> Iterator[LocalCloud]:
    with LocalCloud(nested_app(), backend=backend) as c:
        yield c


def _ids(result: dict[str, Any]) -> list[str]:
    found: list[str] = []
    node: Any = result
    while isinstance(node, dict):
        found.extend(str(node[k]) for k in ("top", "outer", "middle", "id") if k in node)
        node = node.get("inner")
    return found


@pytest.mark.parametrize("root", [ID_80, ID_128])
def test_child_of_child_of_child_ids_stay_valid_group_ids(cloud: LocalCloud, root: str) -> None:
    client = cloud.client()
    result = client.start("top", 0, execution_id=root).result()
    ids = [*_ids(result), result["spaced"]["id"]]
    assert ids[0] == root and len(ids) == 5
    assert len(set(ids)) == 5
    for execution_id in ids:
        assert SQS_GROUP_ID.match(execution_id), execution_id
        assert client.describe(execution_id).status == "SUCCEEDED"
    assert result["inner"]["inner"]["inner"] == {"leaf": 3, "id": ids[3]}
    assert not cloud.dead_letters()


def test_short_child_ids_keep_their_readable_form(cloud: LocalCloud) -> None:
    app_client = cloud.client()
    result = app_client.start("top", 0, execution_id="t1").result()
    assert result["inner"]["outer"] == f"t1.{LONG_OP}-0"
    # the grandchild would be 3 + 2 * 70 characters: shortened, still starting with its parent's prefix
    grandchild = result["inner"]["inner"]["middle"]
    assert len(grandchild) <= MAX_EXECUTION_ID and grandchild.startswith("t1.")


@pytest.mark.parametrize("root", [ID_80, "x" * 78, ID_128])
def test_continue_as_new_twenty_generations_succeeds_at_any_id_length(cloud: LocalCloud, root: str) -> None:
    client = cloud.client()
    handle = client.start("counter", 1, execution_id=root)
    current, generations = handle.result(), [root]
    while isinstance(current, dict) and "continued_as_new" in current:
        generations.append(current["continued_as_new"])
        current = client.result(generations[-1])
    assert current == {"done": 20}
    assert len(generations) == 20 and len(set(generations)) == 20
    for execution_id in generations:
        assert SQS_GROUP_ID.match(execution_id), execution_id
        assert client.describe(execution_id).status == "SUCCEEDED"
    assert not cloud.dead_letters()


def test_derived_ids_are_deterministic_unique_and_unchanged_when_short() -> None:
    assert child_execution_id("p", "send-1") == "p.send-1"
    assert next_generation_id("c") == "c~2" and next_generation_id("c~9") == "c~10"
    long_a = child_execution_id(ID_128, LONG_OP)
    assert long_a == child_execution_id(ID_128, LONG_OP)  # replay-safe
    assert long_a != child_execution_id(ID_128, LONG_OP + "x")
    assert len(long_a) <= MAX_EXECUTION_ID and long_a.startswith("customer-")
    gen = ID_128
    seen = set()
    for _ in range(30):
        gen = next_generation_id(gen)
        assert len(gen) <= MAX_EXECUTION_ID and gen not in seen
        seen.add(gen)
    assert gen.endswith("~31")
