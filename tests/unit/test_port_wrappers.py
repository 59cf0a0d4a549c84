"""The typed port wrappers (runtime/guard.py, local/faults.py) cover every member of the port protocols."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from stepbridge.errors import PayloadTooLarge
from stepbridge.infra.memory import InMemoryStore
from stepbridge.local.faults import Fault, FaultInjector, FaultPlan, FaultyEffects, FaultyStore, protocol_methods
from stepbridge.runtime.guard import GuardedEffects, GuardedStore, InfrastructureFailure, guard_effects, guard_store
from stepbridge.runtime.ports import Effects, Item, Store


@pytest.mark.parametrize(("wrapper", "protocol"), [(GuardedStore, Store), (GuardedEffects, Effects)])
def test_guard_overrides_every_protocol_member(wrapper: type, protocol: type) -> None:
    """A member left to the Protocol's body would silently return ``None``: each must be written out."""
    missing = [name for name in protocol_methods(protocol) if name not in vars(wrapper)]
    assert missing == [], f"{wrapper.__name__} does not wrap {missing}"


@pytest.mark.parametrize(("wrapper", "protocol"), [(FaultyStore, Store), (FaultyEffects, Effects)])
def test_fault_wrappers_are_generated_for_every_protocol_member(wrapper: type, protocol: type) -> None:
    assert [n for n in protocol_methods(protocol) if n not in vars(wrapper)] == []
    assert len(protocol_methods(protocol)) >= 6


def test_guarded_store_turns_failures_into_infrastructure_failures_and_passes_results() -> None:
    class Broken(InMemoryStore):
        def query_items(self, pk: str, *, sk_prefix: str = "", sk_from: str | None = None,
                        limit: int = 1000) -> list[Item]:
            raise ConnectionError("reset by peer")

        def delete_item(self, pk: str, sk: str, *, if_version: int | None = None) -> bool:
            raise PayloadTooLarge("user-caused: passes through")

    store = guard_store(Broken())
    assert isinstance(store, GuardedStore) and guard_store(store) is store
    assert store.put_item(Item("p", "s", {"a": 1}, version=1), if_absent=True) is True
    assert store.put_item(Item("p", "s", {"a": 2}, version=1), if_absent=True) is False
    got = store.get_item("p", "s")
    assert got is not None and got.body == {"a": 1}
    with pytest.raises(InfrastructureFailure) as info:
        store.query_items("p", sk_prefix="s")
    assert info.value.operation == "store.query_items" and isinstance(info.value.cause, ConnectionError)
    with pytest.raises(PayloadTooLarge):
        store.delete_item("p", "s")


def test_guarded_effects_label_the_failing_call() -> None:
    class Clock:
        def now(self) -> datetime:
            return datetime(2026, 1, 1, tzinfo=UTC)

        def cancel_timer(self, name: str) -> None:
            raise TimeoutError(name)

    effects = guard_effects(Clock())  # type: ignore[arg-type]
    assert isinstance(effects, GuardedEffects) and guard_effects(effects) is effects
    assert effects.now() == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InfrastructureFailure, match=r"effects\.cancel_timer failed: TimeoutError: t-1"):
        effects.cancel_timer("t-1")


def test_generated_fault_wrappers_inject_at_the_named_method_and_skew_the_clock() -> None:
    class Clock:
        def now(self) -> datetime:
            return datetime(2026, 1, 1, tzinfo=UTC)

        def wake(self, message: object) -> None:
            self.woken = message

    injector = FaultInjector(FaultPlan(script=[Fault("throttle.sqs", method="wake")]))
    clock = Clock()
    effects = injector.wrap_effects(clock)  # type: ignore[arg-type]
    assert isinstance(effects, FaultyEffects)
    with injector.invocation("orchestrator"):
        with pytest.raises(ClientError):
            effects.wake("m1")  # type: ignore[arg-type]
        effects.wake("m2")  # type: ignore[arg-type]
        injector.skew = timedelta(seconds=5)
        assert effects.now() == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert clock.woken == "m2"
    assert injector.detail == {"throttle.sqs orchestrator.wake": 1}
    assert injector.calls["orchestrator.wake"] == 2
