"""Fault injection for LocalCloud: prove that executions survive crashes, duplicates and throttling.

``LocalCloud(app, faults=FaultPlan(seed=7, rates={...}))`` injects faults into the same handler
code that runs in AWS, at the places where AWS itself fails:

* **Ports.** The store and the effects the handlers get are wrapped (the runtime stays free of
  fault code). Before a call the wrapper may raise the AWS throttling error of that service
  (``botocore`` ``ClientError`` with ``ProvisionedThroughputExceededException``,
  ``RequestThrottled``, ``ThrottlingException`` or ``TooManyRequestsException``); around a
  *write* (journal append, header save, item put/delete, SQS send, Lambda invoke, schedule
  create/delete, PutEvents) it may crash the container just before the write (after whatever
  side effect came before it: a step function's work, an event published) or just after it
  (before the next write: the wake-up after a journal write, the second of two writes), or make
  the write take effect and still report a failure (an ambiguous timeout).
* **Delivery** (a few hooks in LocalCloud's loop): a work-queue message is delivered again after
  it was processed, or put back behind later messages; a step's asynchronous invoke is delivered
  twice, or its Lambda times out (the step function runs, its report is never written); a rule
  delivery reaches the router twice; a one-time timer (Scheduler) never fires.
* **Inline steps** (``crash.inline_step``): the orchestrator's container dies during an inline
  step - after the step function ran (its side effect happened), before its outcome is
  journaled - as when the step outlives the Lambda's timeout or runs it out of memory.

A container crash is :class:`~stepbridge.local.Crash`: LocalCloud then does what AWS does (the
work message becomes visible again, a step invoke is lost because step functions have
``MaximumRetryAttempts: 0``, a rule delivery is retried). Throttling errors reach the runtime's
guard, which turns them into ``InfrastructureFailure``, so the invocation is retried by its
transport instead of the error reaching workflow code.

Random faults follow ``rates`` (probability per opportunity) from one ``random.Random(seed)``,
so a run is reproducible. Scripted faults (``script=[Fault("crash.after_write",
target="orchestrator", method="append_journal", nth=2)]``) inject exactly one fault at the n-th
matching call: that is how the tests crash at every durable boundary on purpose.

``injector.injected`` counts faults by kind, ``injector.detail`` by kind, target and method.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from stepbridge.local.values import Crash
from stepbridge.runtime.ports import Effects, StepNotStarted, Store
from stepbridge.runtime.vocabulary import Kind, OpType

#: Every fault kind, in the order the figures print them.
KINDS = (
    "throttle.dynamodb",
    "throttle.sqs",
    "throttle.lambda",
    "throttle.scheduler",
    "throttle.eventbridge",
    "crash.before_write",
    "crash.after_write",
    "ambiguous.write",
    "queue.duplicate",
    "queue.reorder",
    "step.duplicate",
    "step.timeout",
    "event.duplicate",
    "timer.lost",
    # issue 13: faults the first plan could not express (see docs/RELIABILITY.md, "Fault injection")
    "timer.duplicate",
    "timer.early",
    "event.late_duplicate",
    "clock.skew",
    "throttle.dynamodb_sdk",
    "queue.visibility_expired",
    "crash.inline_step",
)
#: Kinds that also reach the sweeper (a Lambda with its own clock and table calls), whatever ``targets`` says.
SWEEPER_KINDS = frozenset({"clock.skew", "throttle.dynamodb_sdk"})


def protocol_methods(protocol: type) -> tuple[str, ...]:
    """The public methods a ``Protocol`` declares, in declaration order (what a fault wrapper must cover)."""
    return tuple(name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_"))


#: Store methods (all DynamoDB), read from the ``Store`` protocol, and which of them write.
STORE_METHODS = protocol_methods(Store)
STORE_WRITES = frozenset(
    {"create_execution", "save_execution", "append_journal", "put_journal", "put_item", "delete_item"}
)
#: Effects methods and the service (throttle kind) behind each; ``now`` is never faulted (``clock.skew`` shifts it).
EFFECT_SERVICES = {
    "wake": "throttle.sqs",
    "invoke_step": "throttle.lambda",
    "call_step": "throttle.lambda",
    "schedule_timer": "throttle.scheduler",
    "cancel_timer": "throttle.scheduler",
    "publish": "throttle.eventbridge",
}
#: The effects methods a fault wrapper covers (``now`` only shifts, under ``clock.skew``).
EFFECT_METHODS = protocol_methods(Effects)
#: The error codes the AWS services answer when they throttle (what botocore raises after its own retries).
THROTTLE_CODES = {
    "throttle.dynamodb": ("ProvisionedThroughputExceededException", "DynamoDB", "PutItem"),
    "throttle.sqs": ("RequestThrottled", "SQS", "SendMessage"),
    "throttle.lambda": ("TooManyRequestsException", "Lambda", "Invoke"),
    "throttle.scheduler": ("ThrottlingException", "Scheduler", "CreateSchedule"),
    "throttle.eventbridge": ("ThrottlingException", "EventBridge", "PutEvents"),
}
#: Handler invocations random faults apply to by default (the client, the HTTP API and LocalCloud's
#: own bookkeeping are left alone, so a test can always observe the truth).
DEFAULT_TARGETS = frozenset({"orchestrator", "step", "router"})


@dataclass(frozen=True)
class Fault:
    """One scripted fault: inject ``kind`` at the ``nth`` call that matches ``target`` and ``method``.

    ``target`` is the handler being run (``orchestrator``, ``step``, ``router``, ``sweeper``,
    ``api``; ``None`` = any). ``method`` is a port method (``append_journal``, ``wake`` ...) for
    port faults; delivery faults (``queue.*``, ``step.*``, ``event.duplicate``, ``timer.lost``)
    count their own opportunities. ``when`` filters calls further: it receives the method name
    and the call's positional arguments (e.g. the ``JournalRecord`` being appended).
    """

    kind: str
    target: str | None = None
    method: str | None = None
    nth: int = 1
    when: Callable[[str, tuple[object, ...]], bool] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.nth < 1:
            raise ValueError("Fault.nth counts from 1")


@dataclass(frozen=True)
class FaultPlan:
    """What to inject: ``rates`` (kind -> probability per opportunity) from ``seed``, and/or a ``script``.

    ``targets`` limits random faults to these handler invocations. ``max_faults`` stops random
    injection after that many faults (scripted ones always fire).
    """

    seed: int = 0
    rates: Mapping[str, float] = field(default_factory=dict)
    script: Sequence[Fault] = ()
    targets: frozenset[str] = DEFAULT_TARGETS
    max_faults: int | None = None
    #: ``timer.early``: a timer fires up to this many seconds before its time.
    early_seconds: float = 60.0
    #: ``timer.duplicate`` / ``event.late_duplicate``: the second delivery comes up to this many seconds later.
    late_seconds: float = 600.0
    #: ``clock.skew``: an invocation's ``now()`` is off by up to this many seconds either way.
    skew_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("early_seconds", "late_seconds", "skew_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"FaultPlan.{name} must be >= 0, got {getattr(self, name)}")
        for kind, rate in self.rates.items():
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"rate of {kind!r} must be in [0, 1), got {rate}")

    @classmethod
    def uniform(cls, seed: int, rate: float, **overrides: float) -> FaultPlan:
        """Every kind at ``rate``; ``overrides`` (``crash_after_write=0.02``) set single kinds."""
        rates = {kind: rate for kind in KINDS}
        for name, value in overrides.items():
            rates[name.replace("_", ".", 1)] = value
        return cls(seed=seed, rates=rates)


def throttling_error(kind: str, method: str) -> ClientError:
    """The ``ClientError`` a throttled call of ``method`` raises (after botocore gave up retrying)."""
    code, service, operation = THROTTLE_CODES[kind]
    response: Any = {
        "Error": {"Code": code, "Message": f"Rate exceeded ({service}, injected by FaultPlan at {method})"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, _OPERATIONS.get(method, operation))


#: The AWS API operation behind each port method (for the error's ``operation_name``).
_OPERATIONS = {
    "create_execution": "PutItem",
    "save_execution": "PutItem",
    "append_journal": "PutItem",
    "put_journal": "PutItem",
    "put_item": "PutItem",
    "get_execution": "GetItem",
    "glance_execution": "GetItem",
    "load_execution": "Query",
    "get_item": "GetItem",
    "load_journal": "Query",
    "load_journal_since": "Query",
    "get_journal": "GetItem",
    "query_items": "Query",
    "list_executions": "Query",
    "list_unfinished": "Query",
    "query_index": "Query",
    "delete_item": "DeleteItem",
    "wake": "SendMessage",
    "invoke_step": "Invoke",
    "call_step": "Invoke",
    "schedule_timer": "CreateSchedule",
    "cancel_timer": "DeleteSchedule",
    "publish": "PutEvents",
}


class AmbiguousWriteError(Exception):
    """The write took effect but the caller was told it failed (a timeout after the service applied it)."""


class FaultInjector:
    """The running side of a :class:`FaultPlan`: decides, injects and counts."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        #: Faults injected, by kind.
        self.injected: Counter[str] = Counter()
        #: Faults injected, by ``"kind target.method"``.
        self.detail: Counter[str] = Counter()
        #: Port calls made inside handler invocations, by ``"target.method"`` (faulted or not).
        self.calls: Counter[str] = Counter()
        #: The handler invocation running now (``None`` outside any).
        self.current: str | None = None
        self.enabled = True
        self._seen: Counter[int] = Counter()
        self._kill_step_report = False
        #: ``clock.skew``: the offset of the running invocation's clock.
        self.skew = timedelta(0)
        #: ``queue.visibility_expired``: LocalCloud's callback that runs the batch again on another container.
        self.on_visibility_expired: Callable[[], None] | None = None
        self._redelivering = False

    # ---- decisions ----------------------------------------------------------------------------

    @contextmanager
    def invocation(self, target: str) -> Iterator[None]:
        """Mark a handler invocation (LocalCloud wraps each delivery in this)."""
        previous, self.current = self.current, target
        previous_skew = self.skew
        self.skew = draw_skew(self, target)
        try:
            yield
        finally:
            self.current, self.skew = previous, previous_skew
            if target == "step":
                self._kill_step_report = False

    def paused(self) -> _Paused:
        """``with injector.paused():`` runs a block without faults (harness bookkeeping)."""
        return _Paused(self)

    def decide(self, kind: str, method: str = "", args: tuple[object, ...] = (), *, target: str | None = None) -> bool:
        """Whether to inject ``kind`` at this opportunity (scripted faults first, then the random rate)."""
        if not self.enabled:
            return False
        where = target if target is not None else self.current
        scripted = False
        for index, fault in enumerate(self.plan.script):
            if fault.kind != kind:
                continue
            if fault.target is not None and fault.target != where:
                continue
            if fault.method is not None and fault.method != method:
                continue
            if fault.when is not None and not fault.when(method, args):
                continue
            self._seen[index] += 1  # every matching fault counts this opportunity
            scripted = scripted or self._seen[index] == fault.nth
        if scripted:
            self._count(kind, where, method)
            return True
        rate = self.plan.rates.get(kind, 0.0)
        if rate <= 0.0 or (where not in self.plan.targets and not (where == "sweeper" and kind in SWEEPER_KINDS)):
            return False
        if self.plan.max_faults is not None and sum(self.injected.values()) >= self.plan.max_faults:
            return False
        if self.rng.random() < rate:
            self._count(kind, where, method)
            return True
        return False

    def _count(self, kind: str, where: str | None, method: str) -> None:
        self.injected[kind] += 1
        self.detail[f"{kind} {where or '-'}{'.' + method if method else ''}"] += 1

    # ---- ports ----------------------------------------------------------------------------------

    def wrap_store(self, store: Store) -> Store:
        """The store with throttling, crashes and ambiguous writes injected (a :data:`FaultyStore`)."""
        return cast(Store, FaultyStore(self, store))

    def wrap_effects(self, effects: Effects) -> Effects:
        """The effects with throttling, crashes and ambiguous writes injected (``now`` only skewed)."""
        return cast(Effects, FaultyEffects(self, effects))

    def call(
        self,
        method: str,
        throttle: str | None,
        write: bool,
        fn: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
    ) -> object:
        """Run one port call with the faults this plan decides on."""
        if self.current is None:
            return fn(*args, **kwargs)
        self.calls[f"{self.current}.{method}"] += 1
        if (
            self._kill_step_report
            and method == "append_journal"
            and len(args) > 1
            and getattr(args[1], "kind", "") in (Kind.RESULT, Kind.ATTEMPT)
        ):
            # The step's Lambda hit its timeout: it is killed before its report is written.
            raise Crash()
        if self.current == "orchestrator" and _inline_step_outcome(method, args) and self.decide(
            "crash.inline_step", method, args
        ):
            # The container dies during an inline step, after its side effect and before its outcome is journaled.
            raise Crash()
        if throttle is not None and self.decide(throttle, method, args):
            if method == "call_step":  # what AwsEffects raises for Lambda's TooManyRequestsException
                raise StepNotStarted(f"{method}: Rate Exceeded (injected)")
            raise throttling_error(throttle, method)
        if throttle == "throttle.dynamodb" and self.decide("throttle.dynamodb_sdk", method, args):
            raise sdk_throttling_error(method, self.rng)
        if write and self.current == "orchestrator":
            self._maybe_redeliver(method, args)
        if write and self.decide("crash.before_write", method, args):
            raise Crash()
        result = fn(*args, **kwargs)
        if write and self.decide("crash.after_write", method, args):
            raise Crash()
        if write and self.decide("ambiguous.write", method, args):
            raise AmbiguousWriteError(f"{method}: request timed out after the write was applied (injected)")
        return result

    def _maybe_redeliver(self, method: str, args: tuple[object, ...]) -> None:
        """``queue.visibility_expired``: before this write, the batch's visibility timeout runs out and
        another container receives and processes the same messages (once per batch, not nested)."""
        if self.on_visibility_expired is None or self._redelivering:
            return
        if not self.decide("queue.visibility_expired", method, args):
            return
        self._redelivering = True
        try:
            self.on_visibility_expired()
        finally:
            self._redelivering = False

    # ---- delivery hooks (called by LocalCloud) -----------------------------------------------

    def timer_due(self, at: datetime) -> datetime:
        """A one-time timer is created: ``timer.early`` moves its firing up to ``early_seconds`` earlier."""
        if self.plan.early_seconds > 0 and self.decide("timer.early", "schedule_timer"):
            return at - timedelta(seconds=self.rng.uniform(0.001, self.plan.early_seconds))
        return at

    def timer_again(self) -> float | None:
        """A one-time timer fired: ``timer.duplicate`` sends its wake-up again this many seconds later."""
        if self.decide("timer.duplicate", "fire", target="orchestrator"):
            return self.rng.uniform(0.0, self.plan.late_seconds)
        return None

    def event_again(self) -> float | None:
        """A rule delivery was sent to the router queue: ``event.late_duplicate`` sends it again this much later."""
        if self.decide("event.late_duplicate", "deliver", target="router"):
            return self.rng.uniform(1.0, max(1.0, self.plan.late_seconds))
        return None

    def on_step_delivery(self, invocation: dict[str, object]) -> tuple[bool, bool]:
        """Before a step invoke is run: ``(duplicate it, let its Lambda time out before reporting)``."""
        duplicate = self.decide("step.duplicate", "invoke", target="step")
        timeout = self.decide("step.timeout", "invoke", target="step")
        self._kill_step_report = timeout
        return duplicate, timeout

    def on_step_call(self) -> bool:
        """Before a synchronous step invoke is run: let its Lambda time out before reporting?"""
        timeout = self.decide("step.timeout", "invoke", target="step")
        self._kill_step_report = timeout
        return timeout

    def on_event_delivery(self) -> bool:
        """A rule delivery was sent to the router queue: ``event.duplicate`` sends a second copy at once?"""
        return self.decide("event.duplicate", "deliver", target="router")

    def on_timer(self, name: str) -> bool:
        """A one-time timer is due: ``False`` loses the wake-up (the schedule is deleted, nothing is sent)."""
        return not self.decide("timer.lost", "fire", target="orchestrator")

    def reorder(self, records: list[dict[str, object]], resources: Any) -> list[dict[str, object]]:
        """Received work messages: put some back behind later ones (returns the ones to process now)."""
        kept = []
        for rec in records:
            others_waiting = len(records) > 1 or resources.queue_depth() > 0
            if others_waiting and self.decide("queue.reorder", "receive", target="orchestrator"):
                resources.delete(rec["receiptHandle"])
                resources.resend(rec["body"])
                continue
            kept.append(rec)
        return kept

    def after_processed(self, record: dict[str, object], resources: Any) -> None:
        """A work message was processed and deleted: deliver a copy again later (SQS at-least-once)?"""
        if self.decide("queue.duplicate", "receive", target="orchestrator"):
            resources.resend(record["body"])

    # ---- figures ----------------------------------------------------------------------------

    def summary(self) -> dict[str, int]:
        """Faults injected by kind, every kind listed (zeros included)."""
        return {kind: self.injected.get(kind, 0) for kind in KINDS}


def _inline_step_outcome(method: str, args: tuple[object, ...]) -> bool:
    """The orchestrator journals the outcome of an inline step it has just run (not a declared step's
    claim, which is ``shared``; not a started marker; not the record of an attempt found interrupted,
    which ran no step)."""
    if method != "append_journal" or len(args) < 2:
        return False
    rec = args[1]
    outcomes = (Kind.RESULT, Kind.ATTEMPT, Kind.ERROR)
    if getattr(rec, "type", "") != OpType.STEP or getattr(rec, "kind", "") not in outcomes:
        return False
    return not getattr(rec, "shared", False) and not getattr(rec, "data", {}).get("interrupted")


def draw_skew(injector: FaultInjector, target: str) -> timedelta:
    """``clock.skew``: the clock offset of an invocation of ``target`` (its container's clock is off)."""
    span = injector.plan.skew_seconds
    if span > 0 and injector.decide("clock.skew", "now", target=target):
        return timedelta(seconds=injector.rng.uniform(-span, span))
    return timedelta(0)


#: DynamoDB's throttling answers: (code, message) as the service sends them (provisioned, on-demand, account).
_DYNAMODB_THROTTLES = (
    (
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
        "provisioning level with the UpdateTable API.",
    ),
    (
        "ThrottlingException",
        "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your "
        "table or index so please try again shortly.",
    ),
    ("RequestLimitExceeded", "Throughput exceeds the current throughput limit for your account."),
)


@functools.cache
def _dynamodb_exceptions() -> Any:
    """botocore's modeled DynamoDB exception classes (a client is made once, offline; no call is sent)."""
    import botocore.session

    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client.exceptions


def sdk_throttling_error(method: str, rng: random.Random) -> ClientError:
    """``throttle.dynamodb_sdk``: the exception a DynamoDB client raises once its retries are spent.

    Built by botocore's own error factory (``client.exceptions.from_code``), so it is the modeled
    class (``ProvisionedThroughputExceededException`` ...) with the response botocore parses:
    ``Error``, ``ResponseMetadata`` with status 400 and ``RetryAttempts`` 9 (legacy retry mode,
    DynamoDB's 10 attempts).
    """
    code, message = _DYNAMODB_THROTTLES[rng.randrange(len(_DYNAMODB_THROTTLES))]
    request_id = f"{rng.getrandbits(64):016X}INJECTED"
    response: object = {
        "Error": {"Message": message, "Code": code},
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPStatusCode": 400,
            "HTTPHeaders": {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": request_id},
            "RetryAttempts": 9,
        },
    }
    error: ClientError = _dynamodb_exceptions().from_code(code)(response, _OPERATIONS.get(method, "PutItem"))
    return error


class _Paused:
    def __init__(self, injector: FaultInjector) -> None:
        self._injector = injector
        self._was = True

    def __enter__(self) -> None:
        self._was, self._injector.enabled = self._injector.enabled, False

    def __exit__(self, *exc: object) -> None:
        self._injector.enabled = self._was


class _FaultyPort:
    """Base of the generated fault wrappers: holds the injector and the real port."""

    _throttles: dict[str, str] = {}
    _writes: frozenset[str] = frozenset()

    def __init__(self, injector: FaultInjector, target: object) -> None:
        self._injector = injector
        self._target = target

    @property
    def unwrapped(self) -> object:
        """The real port."""
        return self._target


def _faulty_method(name: str) -> Callable[..., object]:
    """A wrapper method that sends the call of ``name`` through :meth:`FaultInjector.call`."""

    def method(self: _FaultyPort, *args: object, **kwargs: object) -> object:
        return self._injector.call(name, self._throttles[name], name in self._writes, getattr(self._target, name),
                                   args, kwargs)

    method.__name__ = method.__qualname__ = name
    return method


def _skewed_now(self: _FaultyPort) -> datetime:
    """``now`` under ``clock.skew`` (zero unless drawn for this invocation)."""
    return cast(Effects, self._target).now() + self._injector.skew


def _passed_through(name: str) -> property:
    """A member no fault applies to: the real port's attribute."""
    return property(lambda self: getattr(self._target, name))


def _faulty_class(protocol: type, throttles: Mapping[str, str], writes: frozenset[str]) -> type[_FaultyPort]:
    """A wrapper class with one method per member of ``protocol`` (generated, so none can be forgotten):
    the members in ``throttles`` go through the injector, ``now`` is skewed, any other is passed through."""
    namespace: dict[str, object] = {"_throttles": dict(throttles), "_writes": writes}
    for name in protocol_methods(protocol):
        if name in throttles:
            namespace[name] = _faulty_method(name)
        elif name == "now":
            namespace[name] = _skewed_now
        else:  # not faulted: the real method itself
            namespace[name] = _passed_through(name)
    return type(f"Faulty{protocol.__name__}", (_FaultyPort,), namespace)


#: The generated wrapper classes (every ``Store`` call may be throttled; effects but ``now`` too).
FaultyStore = _faulty_class(Store, {m: "throttle.dynamodb" for m in STORE_METHODS}, STORE_WRITES)
FaultyEffects = _faulty_class(Effects, EFFECT_SERVICES, frozenset(EFFECT_SERVICES))


__all__ = [
    "DEFAULT_TARGETS",
    "KINDS",
    "AmbiguousWriteError",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "throttling_error",
]
