"""Counting what a LocalCloud run costs on AWS, from the outside (stepbridge is not edited).

* :class:`AwsMeter` hooks botocore's ``provide-client-params`` / ``before-call`` / ``after-call``
  events on every boto3 client LocalCloud uses (these events fire under moto too). It counts
  API calls by ``Service.Operation``, the real time spent inside them (i.e. inside moto), and
  estimates DynamoDB request units from the item sizes actually written and read:
  a write is ``ceil(size / 1 KB)`` WRU (plus the same again when the item carries the
  ``by-workflow`` GSI keys), a strongly consistent read ``ceil(size / 4 KB)`` RRU (a Query sums
  its items before rounding, a miss still costs 1), GSI queries are eventually consistent (half).
* :class:`LambdaMeter` wraps the three handler entry points LocalCloud calls, so every
  orchestrator batch, step invocation and router delivery is one Lambda request with a
  measured in-process duration.
* Scheduler invocations are LocalCloud's timer firings (one-time timers and recurring schedules).
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stepbridge.infra.dynamodb import attrs_size
from stepbridge.local import LocalCloud

_CTX_KEY = "stepbridge_bench"

Floats = defaultdict[str, float]


def floats(values: dict[str, float] | None = None) -> Floats:
    """A float-valued counter (missing keys read as 0.0)."""
    out: Floats = defaultdict(float)
    out.update(values or {})
    return out


def _sub(a: dict[str, float], b: dict[str, float]) -> Floats:
    return floats({key: a.get(key, 0.0) - b.get(key, 0.0) for key in set(a) | set(b)})


def _item_size(item: Any) -> int:
    if not isinstance(item, dict) or not item:
        return 0
    try:
        return attrs_size(item)
    except (KeyError, TypeError, AttributeError):
        return sum(len(str(k)) + len(str(v)) for k, v in item.items())


def _key_of(attrs: Any) -> tuple[str, str]:
    try:
        return str(attrs["pk"]["S"]), str(attrs["sk"]["S"])
    except (KeyError, TypeError):
        return "", ""


@dataclass
class AwsMeter:
    """API calls, time inside them, and DynamoDB request units, for every hooked client."""

    calls: Counter[str] = field(default_factory=Counter)
    seconds: Floats = field(default_factory=floats)
    rru: Floats = field(default_factory=floats)
    wru: Floats = field(default_factory=floats)
    items_read: Counter[str] = field(default_factory=Counter)
    sqs_messages_received: int = 0
    sqs_empty_receives: int = 0
    event_entries: int = 0
    #: Running total of seconds inside hooked calls (cheap to read around each handler call).
    busy: float = 0.0
    #: Running calls per service (``DynamoDB``, ``SQS`` ...), cheap to copy around each handler call.
    by_service: Counter[str] = field(default_factory=Counter)
    _hooked: set[int] = field(default_factory=set)
    #: Size of each item this meter saw written, by key: a projected GetItem (``Store.glance_execution``) is
    #: billed by the whole item's size, which its response does not show.
    _sizes: dict[tuple[str, str], int] = field(default_factory=dict)

    # ---- wiring --------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        """Register the hooks on one boto3 client (idempotent)."""
        if id(client) in self._hooked:
            return
        self._hooked.add(id(client))
        events = client.meta.events
        events.register("provide-client-params", self._params)
        events.register("before-call", self._before)
        events.register("after-call", self._after)

    def attach_cloud(self, cloud: LocalCloud) -> None:
        """Hook every client of a moto-backed LocalCloud (creating the lazy ones now)."""
        if cloud.backend != "moto":
            return
        self.attach(cloud.store.client)
        aws = cloud._aws_effects
        for name in ("sqs", "scheduler", "events"):
            self.attach(getattr(aws, name))
        resources = cloud.resources
        for service in ("sqs", "scheduler"):
            self.attach(resources.client(service))
        if hasattr(resources, "on_call"):  # the event source mappings' calls, made on moto's backend directly
            resources.on_call = self.service_call

    def service_call(self, op: str, received: int, seconds: float) -> None:
        """An SQS call LocalCloud made for the Lambda service (local/servicequeues.py): counted like a hooked one."""
        self.calls[op] += 1
        self.by_service[op.split(".", 1)[0]] += 1
        self.seconds[op] += seconds
        self.busy += seconds
        if op == "SQS.ReceiveMessage":
            self.sqs_messages_received += received
            if received == 0:
                self.sqs_empty_receives += 1

    # ---- hooks (botocore calls them with keyword arguments) ----------------------------------

    @staticmethod
    def _params(params: Any = None, context: Any = None, **_: Any) -> None:
        if isinstance(context, dict) and isinstance(params, dict):
            context[_CTX_KEY] = {"params": dict(params), "start": 0.0}

    @staticmethod
    def _before(context: Any = None, **_: Any) -> None:
        if isinstance(context, dict):
            context.setdefault(_CTX_KEY, {"params": {}})["start"] = time.perf_counter()

    def _after(self, model: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
        state = context.get(_CTX_KEY, {}) if isinstance(context, dict) else {}
        service = str(model.service_model.service_id).replace(" ", "") if model is not None else "?"
        op = f"{service}.{model.name}" if model is not None else "?"
        self.calls[op] += 1
        self.by_service[service] += 1
        if state.get("start"):
            elapsed = time.perf_counter() - float(state["start"])
            self.seconds[op] += elapsed
            self.busy += elapsed
        params: dict[str, Any] = state.get("params") or {}
        response: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        if service == "DynamoDB":
            self._dynamodb(model.name, params, response)
        elif op == "SQS.ReceiveMessage":
            got = len(response.get("Messages", []))
            self.sqs_messages_received += got
            if got == 0:
                self.sqs_empty_receives += 1
        elif op == "EventBridge.PutEvents":
            self.event_entries += len(params.get("Entries", []))

    def _dynamodb(self, op: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        consistent = 1.0 if params.get("ConsistentRead") and not params.get("IndexName") else 0.5
        if op == "PutItem":
            item = params.get("Item") or {}
            size = _item_size(item)
            self._sizes[_key_of(item)] = size
            units = max(1, math.ceil(size / 1024))
            if "gsi1pk" in item:
                units *= 2  # the by-workflow GSI (projection ALL) is written too
            self.wru[op] += units
        elif op == "DeleteItem":
            old = response.get("Attributes") or {}
            self.wru[op] += max(1, math.ceil(_item_size(old) / 1024))
        elif op == "GetItem":
            size = _item_size(response.get("Item") or {})
            if params.get("ProjectionExpression") and response.get("Item"):
                # DynamoDB bills a read by the whole item, projected or not (unseen writes: the projection's size)
                size = self._sizes.get(_key_of(params.get("Key") or {}), size)
            self.rru[op] += max(1, math.ceil(size / 4096)) * consistent
            self.items_read[op] += 1 if response.get("Item") else 0
        elif op in ("Query", "Scan"):
            items = response.get("Items", [])
            size = sum(_item_size(i) for i in items)
            self.rru[op] += max(1, math.ceil(size / 4096)) * consistent
            self.items_read[op] += len(items)

    # ---- reading ---------------------------------------------------------------------------

    def snapshot(self) -> MeterSnapshot:
        """A frozen copy to subtract later."""
        return MeterSnapshot(
            Counter(self.calls), floats(self.seconds), floats(self.rru), floats(self.wru),
            Counter(self.items_read), self.sqs_messages_received, self.sqs_empty_receives, self.event_entries,
        )


@dataclass
class MeterSnapshot:
    """Counters of an :class:`AwsMeter` at one moment; ``b - a`` is what happened in between."""

    calls: Counter[str]
    seconds: Floats
    rru: Floats
    wru: Floats
    items_read: Counter[str]
    sqs_messages_received: int
    sqs_empty_receives: int
    event_entries: int

    def __sub__(self, other: MeterSnapshot) -> MeterSnapshot:
        return MeterSnapshot(
            self.calls - other.calls, _sub(self.seconds, other.seconds), _sub(self.rru, other.rru),
            _sub(self.wru, other.wru),
            self.items_read - other.items_read, self.sqs_messages_received - other.sqs_messages_received,
            self.sqs_empty_receives - other.sqs_empty_receives, self.event_entries - other.event_entries,
        )

    def total_calls(self, prefix: str = "") -> int:
        """API calls whose name starts with ``prefix`` (``"DynamoDB."``, ``"SQS."`` ...)."""
        return sum(v for k, v in self.calls.items() if k.startswith(prefix))

    def total_seconds(self, prefix: str = "") -> float:
        """Seconds spent inside those calls (inside moto, under LocalCloud)."""
        return float(sum(v for k, v in self.seconds.items() if k.startswith(prefix)))

    @property
    def total_rru(self) -> float:
        """Estimated DynamoDB read request units."""
        return float(sum(self.rru.values()))

    @property
    def total_wru(self) -> float:
        """Estimated DynamoDB write request units."""
        return float(sum(self.wru.values()))


@dataclass
class LambdaMeter:
    """Lambda requests and in-process durations per function kind (orchestrator, step, router)."""

    invocations: Counter[str] = field(default_factory=Counter)
    seconds: Floats = field(default_factory=floats)
    #: Seconds spent inside hooked AWS calls during each kind's invocations (subtract for own CPU time).
    aws_seconds: Floats = field(default_factory=floats)
    #: AWS calls made inside each kind's invocations, by ``kind/service``.
    aws_calls: Counter[str] = field(default_factory=Counter)
    scheduler_invocations: int = 0
    #: Own (non-AWS) seconds of handlers run inside another's invocation, by ``outer/inner`` kind: a declared
    #: step answering a synchronous invoke (runtime/stepreply.py) runs inside the orchestrator's invocation,
    #: which waits for it at the step's CPU share, not its own.
    nested: Floats = field(default_factory=floats)
    #: How many handler runs were nested so, by ``outer/inner`` kind (each a declared step's in-process answer).
    nested_runs: Counter[str] = field(default_factory=Counter)
    _running: list[str] = field(default_factory=list)

    @contextmanager
    def installed(self, cloud: LocalCloud, aws: AwsMeter | None = None) -> Iterator[LambdaMeter]:
        """Wrap the handler entry points LocalCloud calls, and its timer firing, for the ``with`` block."""
        from stepbridge.handlers import orchestrator, router, step

        modules = {"orchestrator": orchestrator, "step": step, "router": router}
        originals = {kind: module.handle for kind, module in modules.items()}

        def wrap(kind: str, fn: Any) -> Any:
            def handle(event: Any, env: Any, *rest: Any) -> Any:
                before = aws.busy if aws is not None else 0.0
                services = Counter(aws.by_service) if aws is not None else Counter[str]()
                outer = self._running[-1] if self._running else None
                self._running.append(kind)
                start = time.perf_counter()
                try:
                    return fn(event, env, *rest)
                finally:
                    self._running.pop()
                    elapsed = time.perf_counter() - start
                    in_aws = aws.busy - before if aws is not None else 0.0
                    self.invocations[kind] += 1
                    self.seconds[kind] += elapsed
                    if outer is not None:
                        self.nested[f"{outer}/{kind}"] += elapsed - in_aws
                        self.nested_runs[f"{outer}/{kind}"] += 1
                    if aws is not None:
                        self.aws_seconds[kind] += in_aws
                        for service, count in (aws.by_service - services).items():
                            self.aws_calls[f"{kind}/{service}"] += count

            return handle

        fire = cloud._fire

        def counted_fire(timer: Any) -> None:
            self.scheduler_invocations += 1
            fire(timer)

        for kind, module in modules.items():
            module.handle = wrap(kind, originals[kind])  # type: ignore[attr-defined]
        cloud._fire = counted_fire  # type: ignore[method-assign]
        try:
            yield self
        finally:
            for kind, module in modules.items():
                module.handle = originals[kind]  # type: ignore[attr-defined]
            cloud._fire = fire  # type: ignore[method-assign]

    def snapshot(self) -> LambdaSnapshot:
        """A frozen copy to subtract later."""
        return LambdaSnapshot(
            Counter(self.invocations), floats(self.seconds), floats(self.aws_seconds), Counter(self.aws_calls),
            self.scheduler_invocations, floats(self.nested), Counter(self.nested_runs),
        )


@dataclass
class LambdaSnapshot:
    """Counters of a :class:`LambdaMeter` at one moment."""

    invocations: Counter[str]
    seconds: Floats
    aws_seconds: Floats
    aws_calls: Counter[str]
    scheduler_invocations: int
    nested: Floats = field(default_factory=floats)
    nested_runs: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: LambdaSnapshot) -> LambdaSnapshot:
        return LambdaSnapshot(
            self.invocations - other.invocations, _sub(self.seconds, other.seconds),
            _sub(self.aws_seconds, other.aws_seconds), self.aws_calls - other.aws_calls,
            self.scheduler_invocations - other.scheduler_invocations, _sub(self.nested, other.nested),
            self.nested_runs - other.nested_runs,
        )
