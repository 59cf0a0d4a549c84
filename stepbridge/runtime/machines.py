"""State machine instances: one per key, persisted with optimistic locking.

For each event bound to a machine: the event's detail is merged into a working copy of the
instance context, the guard runs on it, then exit -> action -> entry. An action returning a
dict is merged into the context. A rejected event (no transition from the current state, or
guard false) leaves the stored instance unchanged, is recorded in the instance's rejection
log and emits ``StateMachine.rejected``. Events are applied at most once per instance (the
last event ids are kept), so a redelivered event changes nothing.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import jmespath

from stepbridge.api.app import App, MachineDef
from stepbridge.runtime.loops import LoopFactory, run_coroutine
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import Event, iso
from stepbridge.runtime.steps import call_function

_SEEN_LIMIT = 50
_LOG_LIMIT = 50


class HookEvent(dict[str, Any]):
    """The event as hooks see it: ``detail_type``, ``detail``, ``id``, ``time`` (also as attributes)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def instance_key(machine: str) -> str:
    """Partition key of a machine's instances."""
    return f"SM#{machine}"


@dataclass
class MachineRunner:
    """Applies events to state machine instances."""

    app: App
    store: Store
    effects: Effects
    loop_factory: LoopFactory | None = None

    def apply(self, binding: MachineDef, event: Event) -> dict[str, Any]:
        """Apply one event; returns ``{"accepted": bool, "state": ..., "reason"?: ...}``."""
        machine = binding.machine
        key_value = jmespath.search(binding.key, event.to_eventbridge())
        if key_value is None:
            return self._reject(
                binding, "", None, event, f"the key expression '{binding.key}' found nothing in the event"
            )
        key = str(key_value)
        machine_event = binding.events[event.detail_type]
        hook_event = HookEvent(
            detail_type=event.detail_type, detail=event.detail, id=event.id, time=event.time or iso(self.effects.now())
        )
        for _ in range(20):
            item = self.store.get_item(instance_key(machine.name), key)
            body: dict[str, Any] = (
                dict(item.body)
                if item
                else {
                    "state": machine.initial,
                    "context": dict(machine.context),
                    "seen": [],
                    "history": [],
                }
            )
            if event.id and event.id in body.get("seen", []):
                return {"accepted": False, "state": body["state"], "reason": "duplicate event"}
            current = str(body["state"])
            context = {**body.get("context", {}), **(event.detail or {})}
            state = machine.states[current]
            transition = state.on.get(machine_event)
            if transition is None:
                return self._reject(
                    binding, key, item, event, f"no transition '{machine_event}' from state '{current}'"
                )
            try:
                if transition.guard is not None and not self._call(transition.guard, context, hook_event):
                    return self._reject(
                        binding, key, item, event, f"guard of '{machine_event}' from '{current}' returned false"
                    )
                if state.exit is not None:
                    self._call(state.exit, context, hook_event)
                if transition.action is not None:
                    returned = self._call(transition.action, context, hook_event)
                    if isinstance(returned, dict):
                        context = {**context, **returned}
                if machine.states[transition.target].entry is not None:
                    entry_result = self._call(machine.states[transition.target].entry, context, hook_event)
                    if isinstance(entry_result, dict):
                        context = {**context, **entry_result}
            except Exception as exc:  # a failing hook rejects the event; the instance is left as it was
                return self._reject(
                    binding, key, item, event,
                    f"'{machine_event}' from '{current}' failed in a hook: {type(exc).__name__}: {exc}",
                )
            new_body = {
                "state": transition.target,
                "context": context,
                "seen": ([*body.get("seen", []), event.id] if event.id else body.get("seen", []))[-_SEEN_LIMIT:],
                "history": [
                    *body.get("history", []),
                    {
                        "from": current,
                        "to": transition.target,
                        "event": machine_event,
                        "event_id": event.id,
                        "at": iso(self.effects.now()),
                    },
                ][-_LOG_LIMIT:],
            }
            ok = (
                self.store.put_item(Item(instance_key(machine.name), key, new_body), if_version=item.version)
                if item
                else self.store.put_item(Item(instance_key(machine.name), key, new_body, version=1), if_absent=True)
            )
            if ok:
                return {"accepted": True, "state": transition.target}
        raise RuntimeError(f"state machine '{machine.name}' instance '{key}': too many concurrent updates")

    def _call(self, hook: Any, context: dict[str, Any], event: HookEvent) -> Any:
        params = [
            p
            for p in inspect.signature(hook).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        args: tuple[Any, ...] = (dict(context), event) if len(params) >= 2 else (dict(context),)
        return run_coroutine(call_function(hook, args, None), self.loop_factory)

    def _reject(self, binding: MachineDef, key: str, item: Item | None, event: Event, reason: str) -> dict[str, Any]:
        machine = binding.machine
        state = item.body["state"] if item else machine.initial
        detail = {
            "machine": machine.name,
            "key": key,
            "state": state,
            "event": binding.events.get(event.detail_type),
            "event_type": event.detail_type,
            "event_id": event.id,
            "reason": reason,
        }
        self.effects.publish(
            [Event("StateMachine.rejected", detail, source=self.app.name, time=iso(self.effects.now()))]
        )
        # Rejections are logged beside the instance, never in it: a rejected event changes nothing.
        log_key = (instance_key(machine.name), f"{key}#rejections")
        for _ in range(10):
            log = self.store.get_item(*log_key)
            entries = [*(log.body.get("rejections", []) if log else []), {**detail, "at": iso(self.effects.now())}]
            body = {"rejections": entries[-_LOG_LIMIT:]}
            if log is None:
                if self.store.put_item(Item(*log_key, body, version=1), if_absent=True):
                    break
            elif self.store.put_item(Item(*log_key, body), if_version=log.version):
                break
        return {"accepted": False, "state": state, "reason": reason}


def machine_state(store: Store, machine: str, key: str) -> dict[str, Any] | None:
    """``{"state", "context", "version"}`` of one instance, or ``None`` if it has seen no event yet."""
    item = store.get_item(instance_key(machine), key)
    if item is None:
        return None
    log = store.get_item(instance_key(machine), f"{key}#rejections")
    return {
        "state": item.body["state"],
        "context": item.body.get("context", {}),
        "version": item.version,
        "history": item.body.get("history", []),
        "rejections": log.body.get("rejections", []) if log else [],
    }
