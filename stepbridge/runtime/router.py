"""The router service: what happens when an event reaches the app's bus.

* the catch-all rule: log the event (``wait_for`` look-back), wake executions whose waiter
  matches, and drive state machines;
* a trigger rule: start the trigger's workflow (idempotent by event id), or debounce it;
* a recurring schedule or a debounce window firing (via the work queue): start the workflow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jmespath

from stepbridge.api.app import App, TriggerDef
from stepbridge.runtime import keys, payloads, provenance
from stepbridge.runtime.execution_ids import fit_key
from stepbridge.runtime.executions import start_execution
from stepbridge.runtime.limits import EVENT_LOG_RETENTION_DAYS
from stepbridge.runtime.observability import logger
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import Event, WakeMessage, iso, parse_iso
from stepbridge.runtime.vocabulary import Reason
from stepbridge.runtime.waits import matches


def exec_id_for(prefix: str, suffix: str) -> str:
    """An execution id from a workflow name and an event id, within 80 characters (well inside the 128 an
    execution id may have): ``{prefix}-{event id}``, or a prefix and a hash of the event id when longer."""
    safe = "".join(c if c.isalnum() or c in "-_.:" else "-" for c in suffix)
    if len(prefix) + 1 + len(safe) <= 80:
        return f"{prefix}-{safe}"
    return f"{prefix[:40]}-{hashlib.sha256(suffix.encode()).hexdigest()[:32]}"


@dataclass
class Router:
    """Routes events, schedules and debounce windows into executions."""

    app: App
    store: Store
    effects: Effects

    # ---- catch-all rule -------------------------------------------------------------

    def handle_event(self, event: Event) -> None:
        """Log the event for look-back, wake matching waiters, apply state machine transitions."""
        now = self.effects.now()
        received = iso(now)
        body = {
            "id": event.id,
            "detail_type": event.detail_type,
            "detail": event.detail,
            "source": event.source,
            "time": event.time or received,
            "received": received,
        }
        if event.resources:  # the caller stamped by POST /events (runtime/provenance.py) is among them
            body["resources"] = list(event.resources)
        self.store.put_item(
            Item(
                keys.event_log_pk(event.detail_type),
                keys.event_log_sk(received, event.id),
                body,
                expires_at=iso(now + timedelta(days=EVENT_LOG_RETENTION_DAYS)),
            ),
        )
        logged = event
        for waiter in self.store.query_items(keys.waiter_pk(event.detail_type)):
            w = waiter.body
            if w.get("match"):
                event = payloads.resolve_event(logged)  # a claim-check detail is read back to be matched
            deadline = w.get("deadline")
            if deadline and now > parse_iso(str(deadline)):
                continue
            if matches(event.detail, w.get("match")) and provenance.accepts(
                event.source, event.resources, w.get("sources"), w.get("callers")
            ):
                dedup = keys.event_dedup(event.id, w.get("op"))
                self.effects.wake(WakeMessage(str(w["execution_id"]), Reason.EVENT, dedup))
        for binding in self.app.machines.values():
            if event.detail_type in binding.events:
                from stepbridge.runtime.machines import start_for_event

                start_for_event(self.app, self.store, self.effects, binding, payloads.resolve_event(logged))

    # ---- trigger rules ----------------------------------------------------------------

    def handle_trigger(self, trigger_name: str, event: Event) -> str | None:
        """Start (or debounce) the trigger's workflow for ``event``; returns the execution id started, if any."""
        trigger = next((t for t in self.app.triggers if t.name == trigger_name), None)
        if trigger is None:
            logger().warning("event for unknown trigger", extra={"trigger": trigger_name, "event_id": event.id})
            return None
        if trigger.sources is not None and event.source not in trigger.sources:
            # The rule's pattern filters on source already; this guards rules deployed before the restriction.
            logger().warning("event from a source the trigger does not accept; ignored",
                             extra={"trigger": trigger_name, "event_id": event.id, "source": event.source})
            return None
        if trigger.debounce:
            self._debounce(trigger, event)
            return None
        return self._start_for(trigger, event)

    def _start_for(self, trigger: TriggerDef, event: Event) -> str:
        envelope = event.to_eventbridge()
        if trigger.input:
            envelope = payloads.resolve_event(event).to_eventbridge()
        payload = jmespath.search(trigger.input, envelope) if trigger.input else event.detail
        record, _ = start_execution(
            self.store, self.effects, trigger.workflow, payload, execution_id=exec_id_for(trigger.workflow, event.id)
        )
        return record.execution_id

    # ---- debounce (trailing edge) -------------------------------------------------------

    def _debounce(self, trigger: TriggerDef, event: Event) -> None:
        envelope = event.to_eventbridge()
        key_value = jmespath.search(trigger.key, envelope) if trigger.key else "*"
        key = str(key_value)
        pk, sk = keys.debounce_pk(trigger.name), fit_key(key)  # a key of any length fits DynamoDB's sort key
        now = self.effects.now()
        for _ in range(20):
            item = self.store.get_item(pk, sk)
            first_at = parse_iso(str(item.body["first_at"])) if item else now
            due = now + timedelta(seconds=trigger.debounce or 0)
            if trigger.max_wait is not None:
                due = min(due, first_at + timedelta(seconds=trigger.max_wait))
            body = {
                "event": envelope,
                "first_at": iso(first_at),
                "due_at": iso(due),
                "count": (item.body.get("count", 0) if item else 0) + 1,
            }
            version = item.version if item else 0
            ok = (
                self.store.put_item(Item(pk, sk, body), if_version=version)
                if item
                else self.store.put_item(Item(pk, sk, body, version=1), if_absent=True)
            )
            if ok:
                new_version = version + 1
                if item is not None:
                    self.effects.cancel_timer(self._debounce_timer(trigger.name, key, version))
                self.effects.schedule_timer(
                    self._debounce_timer(trigger.name, key, new_version),
                    due,
                    WakeMessage(
                        keys.debounce_message_id(trigger.name, key),
                        Reason.DEBOUNCE,
                        f"{new_version}",
                        {"trigger": trigger.name, "key": key, "version": new_version},
                    ),
                )
                return
        raise RuntimeError(f"debounce for trigger '{trigger.name}' key '{key}': too many concurrent updates")

    @staticmethod
    def _debounce_timer(trigger: str, key: str, version: int) -> str:
        return keys.debounce_timer_name(trigger, key, version)

    def fire_debounce(self, message: WakeMessage) -> None:
        """A debounce window closed: start the workflow with the latest event, unless a newer event moved it."""
        data = message.data or {}
        trigger = next((t for t in self.app.triggers if t.name == data.get("trigger")), None)
        if trigger is None:
            return
        pk, sk = keys.debounce_pk(trigger.name), fit_key(str(data.get("key")))
        item = self.store.get_item(pk, sk)
        if item is None or item.version != int(data.get("version", -1)):
            return  # superseded by a newer event (its own timer will fire) or already fired
        if self.effects.now() < parse_iso(str(item.body["due_at"])):
            # Delivered early (Scheduler deletes a delivered schedule): set it again, or the run is lost.
            self.effects.schedule_timer(
                self._debounce_timer(trigger.name, sk, item.version),
                parse_iso(str(item.body["due_at"])),
                WakeMessage(
                    message.execution_id,
                    Reason.DEBOUNCE,
                    message.dedup,
                    {**data, "rearmed": iso(self.effects.now())},
                ),
            )
            return
        # Start first (idempotent by event id), then close the window: deleting first would lose the
        # run for good if the invocation died in between (the redelivered message finds no window).
        self._start_for(trigger, Event.from_eventbridge(item.body["event"]))
        self.store.delete_item(pk, sk, if_version=item.version)

    # ---- recurring schedules ----------------------------------------------------------------

    def fire_schedule(self, message: WakeMessage) -> str | None:
        """A recurring schedule fired: start its workflow with ``{"scheduled_time": ...}`` (once per fire time)."""
        data = message.data or {}
        schedule = next((s for s in self.app.schedules if s.name == data.get("schedule")), None)
        if schedule is None:
            logger().warning("fire for unknown schedule", extra={"schedule": data.get("schedule")})
            return None
        scheduled_time = str(data.get("scheduled_time") or iso(self.effects.now()))
        payload: dict[str, Any] = {"scheduled_time": scheduled_time, **dict(schedule.input or {})}
        stamp = scheduled_time.replace(":", "").replace("-", "").replace("+0000", "Z")[:15]
        record, _ = start_execution(
            self.store, self.effects, schedule.workflow, payload, execution_id=exec_id_for(schedule.name, stamp)
        )
        return record.execution_id
