"""Keys stepbridge derives from user data stay inside DynamoDB's key sizes (2048-byte partition key,
1024-byte sort key), on moto where LocalCloud refuses a longer key as DynamoDB does.

* a debounce key of any length (a JMESPath value from the event) groups its events as before;
* a step ``cache_key`` of any length caches;
* a state machine key over 512 bytes is rejected with a clear reason, not a failed write.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, State, StateMachine, Transition
from stepbridge.local import LocalCloud
from stepbridge.runtime.execution_ids import MAX_KEY_PART_BYTES, fit_key

LONG = "k" * 3000
RUNS: list[str] = []


def long_keys_app() -> App:
    app = App("keys")

    @app.workflow("index")
    async def index(ctx: Context, data: dict[str, Any]) -> Any:
        return data["n"]

    def expensive(x: int) -> int:
        RUNS.append("expensive")
        return x * 2

    @app.workflow("cached")
    async def cached(ctx: Context, x: int) -> Any:
        return await ctx.step("expensive", expensive, x, cache_ttl=3600, cache_key=LONG)

    machine = StateMachine("doc", initial="draft", states={
        "draft": State(on={"submit": Transition("submitted")}),
        "submitted": State(),
    })
    app.on("Entity.updated", index, debounce=timedelta(seconds=5), key="detail.entityId")
    app.state_machine(machine, events={"Doc.submitted": "submit"}, key="detail.docId")
    return app


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    RUNS.clear()
    with LocalCloud(long_keys_app()) as c:
        yield c


def test_fit_key_keeps_short_keys_and_hashes_long_ones_within_the_limit() -> None:
    assert fit_key("order-1") == "order-1"
    assert fit_key("é" * 256) == "é" * 256  # 512 bytes: kept
    hashed = fit_key("é" * 257)
    assert len(hashed.encode()) <= MAX_KEY_PART_BYTES and hashed == fit_key("é" * 257) != fit_key("é" * 258)


def test_a_debounce_key_of_3000_characters_debounces(cloud: LocalCloud) -> None:
    client = cloud.client()
    for n in range(3):
        client.send_event("Entity.updated", {"entityId": LONG, "n": n})
    cloud.advance(timedelta(seconds=10))
    runs = [e for e in client.list(workflow="index")]
    assert len(runs) == 1 and client.result(runs[0].execution_id) == 2
    assert cloud.router_dead_letters() == [] and cloud.dead_letters() == []


def test_a_cache_key_of_3000_characters_caches(cloud: LocalCloud) -> None:
    client = cloud.client()
    assert client.start("cached", 21).result() == 42
    assert client.start("cached", 21).result() == 42
    assert RUNS == ["expensive"]


def test_a_state_machine_key_over_512_bytes_is_rejected_clearly(cloud: LocalCloud) -> None:
    client = cloud.client()
    client.send_event("Doc.submitted", {"docId": LONG})
    rejected = [e.detail for e in cloud.events if e.detail_type == "StateMachine.rejected"]
    assert len(rejected) == 1 and "over 512 bytes" in rejected[0]["reason"]
    assert client.machine_state("doc", LONG) is None
    assert cloud.router_dead_letters() == []
    client.send_event("Doc.submitted", {"docId": "d-1"})
    assert client.machine_state("doc", "d-1")["state"] == "submitted"
