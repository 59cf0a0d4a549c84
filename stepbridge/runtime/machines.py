"""State machine instances, driven durably: each event is applied by a short workflow execution.

The router turns an event bound to a machine into an execution of the built-in workflow
``stepbridge.sm.<machine>`` (id derived from the event id, so a redelivered event applies
once). That execution:

1. takes the instance's lock (a conditional write; an execution that finds it held waits on a
   durable timer and tries again), so events for one instance apply one at a time;
2. loads the instance (state, context, version): the context starts as
   ``StateMachine(context=...)`` and every event's detail is merged into it before the guard;
3. runs guard -> exit -> action -> entry, each hook as a durable step (retried like any step);
   an action or entry returning a dict is merged into the context;
4. commits the new state with optimistic locking and releases the lock.

A rejected event (no transition from the current state, guard false, or a hook that failed
after its retries) leaves the instance unchanged, is logged beside it and emits
``StateMachine.rejected``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jmespath

from stepbridge.api.app import App, MachineDef, WorkflowDef
from stepbridge.api.machine import StateMachine, Transition
from stepbridge.runtime import keys
from stepbridge.runtime.context import Context, engine_ports
from stepbridge.runtime.execution_ids import MAX_KEY_PART_BYTES, exec_id_for
from stepbridge.runtime.executions import start_execution
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import Event, iso, parse_iso

WORKFLOW_PREFIX = "stepbridge.sm."
_SEEN_LIMIT = 50
_LOG_LIMIT = 50
#: A lock older than this is taken over (its holder must have failed in a way that skipped release).
LOCK_LEASE = timedelta(minutes=15)


class HookEvent(dict[str, Any]):
    """The event as hooks see it: ``detail_type``, ``detail``, ``id``, ``time`` (also as attributes)."""

    def __getattr__(self, name: str) -> object:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def instance_key(machine: str) -> str:
    """Partition key of a machine's instances."""
    return keys.machine_pk(machine)


def workflow_for(app: App, name: str) -> WorkflowDef | None:
    """The built-in workflow that applies events to machine ``stepbridge.sm.<machine>``, if ``name`` is one."""
    if not name.startswith(WORKFLOW_PREFIX) or name[len(WORKFLOW_PREFIX) :] not in app.machines:
        return None
    return WorkflowDef(
        name=name,
        fn=apply_event,
        input_type=Any,
        takes_input=True,
        description="applies one event to a state machine instance",
    )


def start_for_event(app: App, store: Store, effects: Effects, binding: MachineDef, event: Event) -> str | None:
    """Router side: start the execution that applies ``event`` to its instance (idempotent by event id)."""
    key_value = jmespath.search(binding.key, event.to_eventbridge())
    machine = binding.machine.name
    problem = (
        f"the key expression '{binding.key}' found nothing in the event"
        if key_value is None
        # The key is part of the instance's DynamoDB sort key (1024 bytes): refuse clearly, not deep in a write.
        else f"the key found by '{binding.key}' is over {MAX_KEY_PART_BYTES} bytes; use a short id as the key"
        if len(str(key_value).encode("utf-8", "surrogatepass")) > MAX_KEY_PART_BYTES
        else None
    )
    if problem is not None:
        reject(store, effects, app.name, binding, "", binding.machine.initial, event, problem)
        return None
    payload = {"machine": machine, "key": str(key_value), "event": event.to_eventbridge()}
    record, _ = start_execution(
        store,
        effects,
        f"{WORKFLOW_PREFIX}{machine}",
        payload,
        execution_id=exec_id_for(f"sm-{machine}", event.id or iso(effects.now())),
    )
    return record.execution_id


async def apply_event(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
    """The built-in workflow: lock, load, transition with durable hooks, commit, unlock."""
    ports = engine_ports(ctx)
    binding = ports.app.machines[str(payload["machine"])]
    machine = binding.machine
    key = str(payload["key"])
    event = Event.from_eventbridge(payload["event"])
    store = ports.store
    holder = ctx.execution_id

    attempt = 1
    while not await ctx.step(f"lock-{attempt}", lambda: _lock(store, machine.name, key, holder, ports.now())):
        await ctx.sleep(min(2**attempt, 30), name=f"lock-wait-{attempt}")
        attempt += 1

    snapshot = await ctx.step("load", lambda: _load(store, binding, key))
    current = str(snapshot["state"])
    if event.id and event.id in snapshot["seen"]:
        await ctx.step("unlock", lambda: _unlock(store, machine.name, key, holder))
        return {"accepted": False, "state": current, "reason": "duplicate event"}
    machine_event = binding.events[event.detail_type]
    transition = machine.states[current].on.get(machine_event)

    async def refuse(reason: str) -> dict[str, Any]:
        rejected = (store, ports.effects, ports.app.name, binding, key, current, event, reason)
        await ctx.step("reject", lambda: reject(*rejected))
        await ctx.step("unlock", lambda: _unlock(store, machine.name, key, holder))
        return {"accepted": False, "state": current, "reason": reason}

    if transition is None:
        return await refuse(f"no transition '{machine_event}' from state '{current}'")
    try:
        initial = {**snapshot["context"], **(event.detail or {})}
        context = await _run_hooks(ctx, machine, current, transition, initial, event)
        if context is None:
            return await refuse(f"guard of '{machine_event}' from '{current}' returned false")
    except Exception as exc:  # a hook failed after its retries: the instance stays as it was
        return await refuse(f"'{machine_event}' from '{current}' failed in a hook: {type(exc).__name__}: {exc}")
    await ctx.step(
        "commit",
        lambda: _commit(
            store, machine.name, key, snapshot, transition.target, context, event, machine_event, current, holder,
            iso(ports.now()),
        ),
    )
    return {"accepted": True, "state": transition.target}


async def _run_hooks(
    ctx: Context, machine: StateMachine, current: str, transition: Transition, context: dict[str, Any], event: Event
) -> dict[str, Any] | None:
    """Run a transition's guard, exit, action and entry hooks as durable steps; returns the instance's new
    context, or ``None`` when the guard refused the transition."""
    hook_event = HookEvent(detail_type=event.detail_type, detail=event.detail, id=event.id, time=event.time)
    guard, leave, action = transition.guard, machine.states[current].exit, transition.action
    if guard is not None and not await ctx.step("guard", lambda: call_hook(guard, context, hook_event)):
        return None
    if leave is not None:
        await ctx.step("exit", lambda: call_hook(leave, context, hook_event))
    if action is not None:
        returned = await ctx.step("action", lambda: call_hook(action, context, hook_event))
        if isinstance(returned, dict):
            context = {**context, **returned}
    entry = machine.states[transition.target].entry
    if entry is not None:
        entered = dict(context)
        returned = await ctx.step("entry", lambda: call_hook(entry, entered, hook_event))
        if isinstance(returned, dict):
            context = {**context, **returned}
    return context


async def call_hook(hook: Callable[..., object], context: dict[str, Any], event: HookEvent) -> object:
    """Call a hook with ``(context)`` or ``(context, event)``, awaiting it when it is async."""
    params = [
        p for p in inspect.signature(hook).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    result = hook(dict(context), event) if len(params) >= 2 else hook(dict(context))
    if inspect.isawaitable(result):
        result = await result
    return result


def _lock(store: Store, machine: str, key: str, holder: str, now: datetime) -> bool:
    pk, sk = instance_key(machine), keys.machine_lock_sk(key)
    item = store.get_item(pk, sk)
    if item is not None and item.body.get("holder") not in (None, holder):
        taken = item.body.get("at")
        if not taken or now - parse_iso(str(taken)) < LOCK_LEASE:
            return False
        return store.put_item(Item(pk, sk, {"holder": holder, "at": iso(now)}), if_version=item.version)
    if item is not None:
        return True
    return store.put_item(Item(pk, sk, {"holder": holder, "at": iso(now)}, version=1), if_absent=True)


def _unlock(store: Store, machine: str, key: str, holder: str) -> bool:
    pk, sk = instance_key(machine), keys.machine_lock_sk(key)
    item = store.get_item(pk, sk)
    if item is None or item.body.get("holder") != holder:
        return False
    return store.delete_item(pk, sk, if_version=item.version)




def _load(store: Store, binding: MachineDef, key: str) -> dict[str, object]:
    item = store.get_item(instance_key(binding.machine.name), key)
    if item is None:
        return {
            "state": binding.machine.initial,
            "context": dict(binding.machine.context),
            "seen": [],
            "history": [],
            "version": 0,
        }
    return {
        "state": item.body["state"],
        "context": item.body.get("context", {}),
        "seen": item.body.get("seen", []),
        "history": item.body.get("history", []),
        "version": item.version,
    }


def _commit(
    store: Store,
    machine: str,
    key: str,
    snapshot: dict[str, Any],
    target: str,
    context: dict[str, object],
    event: Event,
    machine_event: str,
    current: str,
    holder: str,
    now: str,
) -> int:
    body = {
        "state": target,
        "context": context,
        "seen": ([*snapshot["seen"], event.id] if event.id else snapshot["seen"])[-_SEEN_LIMIT:],
        "history": [
            *snapshot["history"],
            {"from": current, "to": target, "event": machine_event, "event_id": event.id, "at": now},
        ][-_LOG_LIMIT:],
    }
    version = int(snapshot["version"])
    pk = instance_key(machine)
    # The lock makes this execution the only writer; the version check still guards against a
    # replay committing twice (the second write finds the version moved and changes nothing).
    if version == 0:
        store.put_item(Item(pk, key, body, version=1), if_absent=True)
    else:
        store.put_item(Item(pk, key, body), if_version=version)
    _unlock(store, machine, key, holder)
    return version + 1


def reject(
    store: Store, effects: Effects, source: str, binding: MachineDef, key: str, state: str, event: Event, reason: str
) -> dict[str, Any]:
    """Emit ``StateMachine.rejected`` and log it beside the instance; the instance itself is untouched."""
    machine = binding.machine
    now = iso(effects.now())
    detail = {
        "machine": machine.name,
        "key": key,
        "state": state,
        "event": binding.events.get(event.detail_type),
        "event_type": event.detail_type,
        "event_id": event.id,
        "reason": reason,
    }
    effects.publish([Event("StateMachine.rejected", detail, source=source, time=now)])
    log_key = (instance_key(machine.name), keys.machine_rejections_sk(key))
    for _ in range(10):
        log = store.get_item(*log_key)
        entries = [*(log.body.get("rejections", []) if log else []), {**detail, "at": now}]
        body = {"rejections": entries[-_LOG_LIMIT:]}
        if log is None:
            if store.put_item(Item(*log_key, body, version=1), if_absent=True):
                break
        elif store.put_item(Item(*log_key, body), if_version=log.version):
            break
    return detail


def machine_state(store: Store, machine: str, key: str) -> dict[str, object] | None:
    """``{"state", "context", "version"}`` of one instance (plus ``history`` and ``rejections``), or ``None``."""
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_PART_BYTES:
        return None  # no instance has such a key (start_for_event refuses it), and DynamoDB would refuse the read
    item = store.get_item(instance_key(machine), key)
    if item is None:
        return None
    log = store.get_item(instance_key(machine), keys.machine_rejections_sk(key))
    return {
        "state": item.body["state"],
        "context": item.body.get("context", {}),
        "version": item.version,
        "history": item.body.get("history", []),
        "rejections": log.body.get("rejections", []) if log else [],
    }
