"""``LocalCloud``: the app deployed into moto, delivered in-process, on a virtual clock.

The same handler code as in AWS runs here: SQS FIFO -> orchestrator handler, Lambda invoke ->
step handler, EventBridge rules -> router queue -> router handler (matched with EventBridge's
semantics, local/eventmatch.py; the queue: local/routerqueue.py), Scheduler -> fired by the
virtual clock. Nothing sleeps in real time: ``advance()`` jumps the clock to each due timer in
turn, and step code runs on a virtual-time event loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from stepbridge import secrets as secrets_module
from stepbridge.api.app import App, kebab
from stepbridge.api.cron import next_fire
from stepbridge.api.durations import Duration, to_seconds
from stepbridge.api.eventpattern import check_event_pattern, trigger_pattern
from stepbridge.client import Client
from stepbridge.config import ENV_TABLE, step_function_name
from stepbridge.errors import ExecutionStillRunning
from stepbridge.handlers import api as api_handler
from stepbridge.handlers import sweeper as sweeper_handler
from stepbridge.handlers.env import Environment
from stepbridge.infra.aws import invoke_request
from stepbridge.infra.provision import RuleSpec
from stepbridge.local import awslimits
from stepbridge.local.backends import LOCAL_AWS_ENV, memory_backend, moto_backend
from stepbridge.local.clock import Timer, TimerWheel, VirtualClock
from stepbridge.local.eventmatch import matches
from stepbridge.local.faults import FaultInjector, FaultPlan
from stepbridge.local.functionenv import LocalSecrets, as_function
from stepbridge.local.handlerports import Counter, LocalDriver, LocalEffects, LocalLambdaContext
from stepbridge.local.http import api_gateway_event
from stepbridge.local.routerqueue import deliver_batch as deliver_router_batch
from stepbridge.local.routerqueue import send as send_to_router_queue
from stepbridge.local.stepcalls import call_step, run_step
from stepbridge.local.stepcontainers import StepContainers
from stepbridge.local.stepnames import check_mockable
from stepbridge.local.suspended import Suspended, store_calls
from stepbridge.local.values import CapturedEvent, Crash, HttpResponse, MockStep
from stepbridge.local.visibility import run_second_copy
from stepbridge.local.workqueue import RECEIVE_BATCH, deliver_work_batch
from stepbridge.runtime import ids, keys, payloads
from stepbridge.runtime.ids import new_id
from stepbridge.runtime.journalcache import JournalCache
from stepbridge.runtime.loops import VirtualTimeLoop
from stepbridge.runtime.messages import ScheduleFire, WorkMessage
from stepbridge.runtime.observability import recording_metrics
from stepbridge.runtime.records import Event, StepInvocation, WakeMessage, iso
from stepbridge.runtime.sticky import STICKY_DEFAULT
from stepbridge.runtime.vocabulary import is_terminal

DEFAULT_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday morning
#: Step invocations LocalCloud runs in a row before it delivers the work queue's next batch (``step_burst``).
STEP_BURST = RECEIVE_BATCH


class LocalCloud:
    """Deploy ``app`` into moto and run it in-process on a virtual clock.

    ``with LocalCloud(app) as cloud:`` then ``cloud.client()``, ``cloud.advance(timedelta(days=2))``,
    ``cloud.run_until_idle()``, ``cloud.events``, ``cloud.http(...)``, ``cloud.mock_step(...)``.
    With ``eager=True`` (default) every client call runs the cloud until idle before returning,
    like a real cloud that processes at once while no time passes.

    ``faults=FaultPlan(...)`` injects crashes, duplicate and reordered deliveries, throttling,
    step timeouts and lost timers into the handlers (see :mod:`stepbridge.local.faults`);
    ``cloud.faults`` is the injector, whose ``injected`` counts what was injected. The client
    (``cloud.client()``) and the HTTP API see no faults.

    ``orchestrator_containers=k`` emulates k warm orchestrator containers, each with its own
    journal cache (``runtime/journalcache.py``); every batch of the work queue lands on one of
    them at random (seeded by ``container_seed``), as Lambda spreads a queue over its instances.
    The default of one container keeps every run deterministic and every resume warm.

    ``sticky`` (default: ``STEPBRIDGE_STICKY``, on unless it is ``0``) keeps each suspended workflow parked in
    its container between wake-ups (runtime/sticky.py); ``sticky=False`` replays from the top every time.
    ``cloud.redeploy()`` starts every orchestrator container cold, as a deployment of new code does.

    ``step_burst`` (default 10): step Lambdas and the orchestrator run at the same time in AWS, so the wake-ups of
    finished steps are delivered while other steps still run: after every ``step_burst`` step invocations in a row,
    one batch of the work queue (if any) is delivered. A 1,000-way fan-out then never piles 1,000 messages into the
    execution's FIFO group (moto's SQS slows with queue depth). ``step_burst=None`` runs every pending step first.

    ``orchestrator_timeout`` (seconds, default 120 as in the compiled template) is the orchestrator
    function's timeout: an inline step gets at most the invocation's remaining (virtual) time.

    Random ids (event ids, unnamed executions, queue messages) come from a source seeded with
    ``id_seed`` while the cloud runs (``runtime/ids.py``), so a memory-backend run is reproducible
    bit for bit.
    """

    def __init__(
        self,
        app: App,
        *,
        start: datetime | None = None,
        eager: bool = True,
        region: str = "us-east-1",
        max_deliveries: int = 200_000,
        backend: str = "moto",
        faults: FaultPlan | None = None,
        orchestrator_containers: int = 1,
        container_seed: int = 0,
        id_seed: int | str = 0,
        enforce_iam: bool = False,
        orchestrator_timeout: float = 120.0,
        sticky: bool | None = None,
        step_burst: int | None = STEP_BURST,
    ) -> None:
        if backend not in ("moto", "memory"):
            raise ValueError(f"backend must be 'moto' or 'memory', got {backend!r}")
        if not isinstance(orchestrator_containers, int) or orchestrator_containers < 1:
            raise ValueError(f"orchestrator_containers must be a positive int, got {orchestrator_containers!r}")
        if enforce_iam and backend != "moto":
            raise ValueError("enforce_iam=True needs backend='moto' (moto evaluates the IAM policies)")
        if step_burst is not None and (not isinstance(step_burst, int) or step_burst < 1):
            raise ValueError(f"step_burst must be a positive int or None, got {step_burst!r}")
        app.validate()
        self.step_burst = step_burst if step_burst is not None else max_deliveries + 1
        self._steps_in_row = 0
        self.enforce_iam = enforce_iam
        self._iam: Any = None
        self.backend = backend
        self.app = app
        self.clock = VirtualClock(start or DEFAULT_START)
        self.timers = TimerWheel()
        self.events: list[CapturedEvent] = []
        self.eager = eager
        self.region = region
        self.max_deliveries = max_deliveries
        self.calls: dict[str, int] = Counter()
        self.crashes: dict[str, int] = Counter()
        self.failed_deliveries: list[dict[str, object]] = []
        #: Metrics the app's handlers added in this cloud (``ctx.metric``, step and workflow telemetry).
        self.metrics: list[dict[str, Any]] = []
        self.mocks: dict[str, MockStep] = {}
        self._step_queue: deque[StepInvocation] = deque()
        #: The step functions' warm containers (local/stepcontainers.py).
        self.step_containers = StepContainers()
        self._queue_dirty = True
        #: Router queue receives: ``trigger`` and ``event`` (raw) deliveries, and ``failed`` ones (received again).
        self.router_receives: dict[str, int] = Counter()
        self._router_dirty = False
        #: Router queue messages sent and not yet deleted, as far as LocalCloud knows (it sends them all).
        self._router_pending = 0
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._secrets: LocalSecrets | None = None
        self._previous_reader: Any = None
        self._running = False
        #: One journal cache per emulated orchestrator container (see ``orchestrator_containers``).
        self.sticky = STICKY_DEFAULT if sticky is None else bool(sticky)
        self.orchestrator_caches = [JournalCache(sticky=self.sticky) for _ in range(orchestrator_containers)]
        self._container_rng = random.Random(container_seed)
        #: The orchestrator function's timeout (the template's default, ``CompileOptions.orchestrator_timeout``):
        #: inline steps get at most what is left of it, on the virtual clock (``LocalOrchestratorContext``).
        self.orchestrator_timeout = float(orchestrator_timeout)
        self._id_seed = id_seed
        self._restore_ids: Any = None
        self.faults: FaultInjector | None = None
        if faults is not None:
            self.faults = FaultInjector(faults)
            self.faults.on_visibility_expired = self._visibility_expired
        self._batch: tuple[list[dict[str, object]], int] = ([], 0)
        #: Executions certainly still running without a read (local/suspended.py).
        self._suspended = Suspended()

    # ---- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto and create the app's resources (``with LocalCloud(app)`` does this).

        With the moto backend one LocalCloud runs at a time per process (moto's state is global).
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        if self._restore_ids is None:
            self._restore_ids = ids.install(ids.seeded(self._id_seed))
        for key, value in LOCAL_AWS_ENV.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        os.environ["AWS_DEFAULT_REGION"] = self.region
        rules = [RuleSpec(f"{self.app.name}-router", {"source": [{"prefix": ""}]})]
        for trig in self.app.triggers:
            pattern = trigger_pattern(trig.event_types, trig.filter or None, trig.sources)
            check_event_pattern(pattern, where=f"trigger '{trig.name}'")  # what PutRule would refuse
            rules.append(RuleSpec(f"{self.app.name}-{len(rules)}", pattern, trigger=trig.name))
        if self.backend == "memory":
            built = memory_backend(self.app, rules, self.clock.now)
        else:
            built = moto_backend(self.app, rules, self.clock.now, region=self.region, enforce_iam=self.enforce_iam)
        self._mock, self._iam = built.mock, built.iam
        self.resources: Any = built.resources
        self.store: Any = built.store
        self._aws_effects: Any = built.aws_effects
        self.blobs: Any = built.blobs
        if built.table is not None:  # as in a deployed function: stepbridge.idempotency reads the table name
            self._saved_env.setdefault(ENV_TABLE, os.environ.get(ENV_TABLE))
            os.environ[ENV_TABLE] = built.table
        self._previous_blobs = payloads.install(self.blobs)
        self._blobs_installed = True
        self.effects = LocalEffects(self)
        self.env = Environment(
            app=self.app,
            store=self.store,
            effects=self.effects,
            loop_factory=VirtualTimeLoop,
            enforce_step_timeout=True,
            secrets=self.resources,
            waiter=lambda execution_id, seconds: self.run_until_complete(execution_id, timeout=seconds),
            sleep=lambda seconds: None,  # in-process retry waits take no real time
            journal_cache=self.orchestrator_caches[0],
        )
        self._secrets = LocalSecrets(self.resources, backend=self.backend)
        self._previous_reader = secrets_module.set_reader(self._secrets.read)
        if self.faults is not None:
            # Fault hook: the handlers get ports that may throttle, crash or fail ambiguously.
            self.env.store = self.faults.wrap_store(self.store)
            self.env.effects = self.faults.wrap_effects(self.effects)
        for sched in self.app.schedules:
            first = next_fire(sched.cron, self.clock.now(), sched.timezone)
            self.timers.add(keys.schedule_id(sched.name), first, schedule=sched.name)
        if self._iam is not None:
            self._iam.arm(self.store, self._aws_effects)
        self._running = True

    def stop(self) -> None:
        """Stop moto and restore the environment."""
        self.redeploy()  # (closes parked workflows: their loops and tasks, and the step containers)
        if self._iam is not None:
            self._iam.disable()
            self._iam = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if getattr(self, "_blobs_installed", False):
            payloads.install(self._previous_blobs)
            self._blobs_installed = False
        if getattr(self, "_secrets", None) is not None:
            secrets_module.set_reader(self._previous_reader)
            self._secrets = None
        if self._restore_ids is not None:
            self._restore_ids()
            self._restore_ids = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._running = False
        self._suspended.clear()

    # ---- public helpers --------------------------------------------------------------------

    def redeploy(self) -> None:
        """Start every orchestrator container cold, as a deploy does: journal copies and parked workflows go."""
        for cache in self.orchestrator_caches:
            cache.clear()
        self.step_containers.close()

    def client(self) -> Client:
        """A :class:`~stepbridge.client.Client` bound to this cloud (starts the cloud if needed)."""
        if not self._running:
            self.start()
        return Client(self.store, self.effects, app=self.app, driver=LocalDriver(self))

    def now(self) -> datetime:
        """The virtual time."""
        return self.clock.now()

    def mock_step(self, name: str, fake: Any) -> MockStep:
        """Replace a step (declared step name or ``ctx.step`` name) by ``fake``; returns its call recorder.

        A name that is no step of the app (as far as its source tells) raises ``ValueError`` naming the
        known steps, rather than mocking nothing.
        """
        check_mockable(self.app, name)
        mock = MockStep(fake)
        self.mocks[name] = mock
        function = mock.as_function()
        self.env.overrides[name] = function
        if kebab(name) in self.app.steps and kebab(name) != name:  # mock_step("charge_payment", ...) works too
            self.env.overrides[kebab(name)] = function
        return mock

    def set_secret(self, name: str, value: str) -> None:
        """Store a secret: an SSM ``SecureString`` parameter (webhooks and ``secrets=`` names), or, for a
        Secrets Manager ARN, that secret; ``stepbridge.secret`` sees the new value at once."""
        self.resources.put_secret(name, value)
        if self._secrets is not None:
            self._secrets.clear()

    def sweep(self) -> list[str]:
        """Run the sweeper once (as its scheduled function would) and deliver what it woke."""
        woken: list[str] = []
        try:
            with self._invoking("sweeper"):
                woken = sweeper_handler.handle({}, self.env)["woken"]
        except (Crash, Exception) as exc:  # under faults, a failed sweep is simply followed by the next one
            if self.faults is None:
                raise
            self.crashes["sweeper"] += 1
            self.failed_deliveries.append({"target": "sweeper", "payload": {}, "error": f"{type(exc).__name__}: {exc}"})
        self.settle()
        return woken

    def redrive(self) -> int:
        """Move dead-lettered work messages back to the work queue, and the router's dead-lettered events
        back to the router queue (``stepbridge executions redrive``); returns how many."""
        moved: int = self.resources.redrive() + self.resources.redrive_router()
        self._queue_dirty = self._router_dirty = True
        if self.eager:
            self.settle()
        return moved

    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages that landed in the work queue's dead-letter queue."""
        return list(self.resources.dead_letters())

    def router_dead_letters(self) -> list[dict[str, Any]]:
        """Rule deliveries (message bodies) the router failed ``ROUTER_MAX_RECEIVES`` times (its dead-letter queue)."""
        return list(self.resources.router_dead_letters())

    # ---- what handler code sends (its Effects port, handlerports.LocalEffects) ---------------------------
    # SQS/Scheduler/EventBridge calls go to moto (through infra); Lambda invokes, rule targets and
    # timers are delivered in-process by the loop below.

    def effect_send(self, message: WorkMessage) -> None:
        """SendMessage to the work queue."""
        self._queue_dirty = True
        self._aws_effects.wake(message)

    def effect_invoke(self, invocation: StepInvocation) -> None:
        """A declared step's asynchronous Invoke: checked like AWS, then queued for in-process delivery."""
        # The same request AwsEffects sends (its own size check first), then what Lambda itself checks.
        request = invoke_request(self.app.name, invocation)
        awslimits.check("lambda", "Invoke", request)
        self.calls["lambda.Invoke"] += 1
        self.step_containers.sent(invocation, request["Payload"])
        self._step_queue.append(invocation)

    def effect_call_step(self, invocation: StepInvocation) -> WakeMessage | None:
        """A declared step's synchronous Invoke: run at once, its answer returned (local/stepcalls.py)."""
        return call_step(self, invocation)

    def effect_set_timer(self, name: str, at: datetime, message: WorkMessage) -> None:
        """CreateSchedule of a one-time timer, kept on the timer wheel."""
        if at <= self.clock.now():
            self._queue_dirty = True  # a timer already due is sent to the queue at once (AwsEffects.schedule_timer)
        self._aws_effects.schedule_timer(name, at, message)
        self.timers.add(name, at if self.faults is None else self.faults.timer_due(at), message)  # fault hook

    def effect_cancel_timer(self, name: str) -> None:
        """DeleteSchedule of a timer that is still pending."""
        if self.timers.exists(name):
            self._aws_effects.cancel_timer(name)
        self.timers.cancel(name)

    def effect_publish(self, events: Sequence[Event]) -> None:
        """PutEvents, each event stamped as EventBridge does (source, id, time), then routed."""
        now = iso(self.clock.now())
        source = self.app.name
        stamped = [
            Event(ev.detail_type, ev.detail, ev.source or source, ev.id or new_id(), ev.time or now, ev.resources)
            for ev in events
        ]
        self._aws_effects.publish(stamped)
        for ev in stamped:
            self._on_published(ev)

    # ---- delivery ----------------------------------------------------------------------------

    def _on_published(self, event: Event) -> None:
        self.events.append(
            CapturedEvent(event.detail_type, event.detail, event.source, event.id, event.time, tuple(event.resources))
        )
        envelope = event.to_eventbridge()
        envelope["account"] = "123456789012"
        envelope["region"] = self.region
        for rule in self.resources.rules:
            if matches(rule.pattern, envelope):  # EventBridge's semantics (eventmatch.py; moto's differ)
                payload = envelope if rule.trigger is None else {"trigger": rule.trigger, "event": envelope}
                send_to_router_queue(self, payload)  # the rule's target: the router queue

    def run_until_idle(self) -> int:
        """Deliver everything due now (events, step invokes, queue messages, due timers); returns deliveries.
        Both queues are received from once at least: another client (a CLI, a test) may have sent to them."""
        self._queue_dirty = self._router_dirty = True
        return self.settle()

    def settle(self) -> int:
        """Deliver everything due now, receiving from a queue only while this cloud's own sends (effects, timer
        firings, releases) may have left messages there: no idle polls of moto, which AWS's event source
        mappings make in the background without the workflow waiting for them (issue 17)."""
        delivered = 0
        while True:
            if delivered > self.max_deliveries:
                raise RuntimeError(
                    f"LocalCloud delivered over {self.max_deliveries} messages without going idle; "
                    "is a workflow looping without a durable wait?"
                )
            if self._router_dirty and deliver_router_batch(self):
                pass
            elif self._step_queue:
                if self._steps_in_row >= self.step_burst and self._drain_queue():
                    self._steps_in_row = 0  # a batch of wake-ups delivered between step invocations
                else:
                    self._steps_in_row += 1
                    self._run_step(self._step_queue.popleft())
            elif self._drain_queue():
                self._steps_in_row = 0
            elif (timer := self.timers.pop_due(self.clock.now())) is not None:
                self._fire(timer)
            else:
                return delivered
            delivered += 1

    def _run_step(self, invocation: StepInvocation) -> None:
        """One asynchronous invoke of a step function, in its warm container (local/stepcontainers.py)."""
        if self.faults is not None:
            duplicate, _ = self.faults.on_step_delivery(invocation.to_dict())
            if duplicate:
                self._step_queue.append(invocation)  # fault hook: Lambda delivers the async invoke twice
        run_step(self, invocation)  # a crash or a failure is lost, as async invokes with retries off are

    def _delivery_failed(self, target: str, payload: dict[str, Any], exc: Exception) -> None:
        """A step handler raised: its asynchronous invoke is not retried (``MaximumRetryAttempts: 0``);
        kept in ``failed_deliveries``."""
        self.failed_deliveries.append({"target": target, "payload": payload, "error": f"{type(exc).__name__}: {exc}"})

    def _drain_queue(self) -> bool:
        """One batch of the work queue to the orchestrator (local/workqueue.py); False if none was there."""
        return deliver_work_batch(self)

    def _visibility_expired(self) -> None:
        """Fault hook (``queue.visibility_expired``): another container processes the batch being processed."""
        run_second_copy(self, *self._batch)

    def _lambda_context(self, invocation: StepInvocation) -> LocalLambdaContext:
        step = self.app.steps.get(invocation.step)
        return LocalLambdaContext(
            function_name=step_function_name(self.app.name, invocation.step),
            timeout=step.timeout if step is not None else 30.0,
        )

    def _invoking(self, target: str) -> contextlib.ExitStack[bool | None]:
        """Around each handler run: record its metrics in ``self.metrics``; fault hook: tell the injector
        which handler runs."""
        stack = contextlib.ExitStack()
        stack.enter_context(recording_metrics(self.metrics))
        if self.faults is not None:
            stack.enter_context(self.faults.invocation(target))
        return stack

    def _as_function(self, step: str | None) -> contextlib.AbstractContextManager[None]:
        """Run as that function (``None``: the orchestrator): its environment, and with ``enforce_iam`` its grants."""
        return as_function(self.app, step, self._iam)

    def _fire(self, timer: Timer) -> None:
        if timer.schedule is not None:
            sched = next(s for s in self.app.schedules if s.name == timer.schedule)
            fired = iso(timer.at).replace("+00:00", "Z")
            self._queue_dirty = True
            self._aws_effects.wake(ScheduleFire(sched.name, fired, fired))
            self.timers.add(timer.name, next_fire(sched.cron, timer.at, sched.timezone), schedule=sched.name)
            return
        if timer.delivery is not None:
            send_to_router_queue(self, timer.delivery, again=True)  # fault hook: a rule delivery comes again
            return
        if timer.message is not None:
            # Scheduler deletes a fired one-time schedule itself (ActionAfterCompletion: DELETE);
            # the timer wheel is LocalCloud's record of what is pending, so no call is made here.
            if self.faults is not None and not self.faults.on_timer(timer.name):
                return  # fault hook: the Scheduler delivery is lost
            self._queue_dirty = True
            if timer.again:  # fault hook: Scheduler's second delivery, past the queue's de-duplication
                self.resources.resend(json.dumps(timer.message.to_dict()))
                return
            self._aws_effects.wake(timer.message)
            if self.faults is not None and (later := self.faults.timer_again()) is not None:
                at = self.clock.now() + timedelta(seconds=later)
                self.timers.add(f"$again:{new_id()}", at, timer.message, again=True)

    def advance(self, duration: Duration) -> int:
        """Move the virtual clock forward, firing every timer due on the way in order; returns deliveries."""
        target = self.clock.now() + timedelta(seconds=to_seconds(duration, what="advance"))
        delivered = self.run_until_idle()
        while (nxt := self.timers.peek()) is not None and nxt.at <= target:
            self.clock.set(nxt.at)
            delivered += self.settle()
        self.clock.set(target)
        return delivered + self.settle()

    def advance_to(self, when: datetime) -> int:
        """Advance the clock to ``when``."""
        return self.advance(max(timedelta(0), when - self.clock.now()))

    def run_until_complete(
        self, execution_id: str, *, timeout: float | None = None, max_skip_days: float = 400,
        read: Callable[[], tuple[str | None, Any]] | None = None,
    ) -> Any:
        """Run, skipping virtual time from timer to timer, until the execution ends; returns the last value read.

        The header is read at first, then only after a delivery (nothing else changes it), and not while the
        execution certainly sleeps (local/suspended.py): a sleep-then-wake reads it once, when it has ended.
        ``read`` replaces that read (``(status, value)``; status ``None``: no such execution); by default the value
        is the record.
        """
        if read is None:
            def read() -> tuple[str | None, Any]:
                rec = self.store.get_execution(execution_id)
                return (rec.status if rec is not None else None), rec

        started = self.clock.now()
        limit = started + timedelta(seconds=timeout) if timeout is not None else started + timedelta(days=max_skip_days)
        must_read = True
        rescanned = False
        status: str | None = None
        while True:
            if (self.settle() or must_read) and (
                rescanned or not self._suspended.known(execution_id, store_calls(self.store))
            ):
                status, value = read()
                if status is None or is_terminal(status):
                    return value
            must_read = False
            nxt = self.timers.peek(one_time_only=True)
            if (nxt is None or nxt.at > limit) and not rescanned:
                # Before giving up: a message another client sent to the queues directly (run_until_idle's rescan).
                rescanned = must_read = True
                self._queue_dirty = self._router_dirty = True
                continue
            if nxt is None or nxt.at > limit:
                raise ExecutionStillRunning(
                    f"execution '{execution_id}' is {status} and nothing scheduled can finish it"
                    + (" before the timeout" if nxt is not None else "")
                    + "; send the event it waits for (client.send_event) or advance the clock"
                )
            self.clock.set(nxt.at)

    # ---- HTTP API ----------------------------------------------------------------------------

    def http(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        caller: str | None = None,
    ) -> HttpResponse:
        """Send a request through the real API handler (HTTP API payload format 2.0).

        ``caller``: the identity API Gateway's authorizer would pass (an IAM principal ARN or ``jwt:<sub>``).
        """
        event = api_gateway_event(method, path, body=body, headers=headers or {}, query=query, now=self.clock.now(),
                                  caller=caller)
        try:
            with self._invoking("api"):
                response = api_handler.handle(event, self.env)
        except Crash:
            # The API's Lambda died mid-request (a scripted fault, target "api"): API Gateway answers 502
            # (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html).
            response = {"statusCode": 502, "body": json.dumps({"message": "Internal Server Error"})}
        if self.eager:
            self.settle()
        return HttpResponse(
            int(response.get("statusCode", 200)), dict(response.get("headers") or {}), str(response.get("body") or "")
        )


__all__ = ["CapturedEvent", "Crash", "HttpResponse", "LocalCloud", "LocalLambdaContext", "MockStep"]
