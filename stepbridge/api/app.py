"""``App``: the registry of an application's workflows, steps, triggers and schedules.

Decorators only record (the Chalice habit): they add a plain dataclass to the app's model and
return the function unchanged. The compiler turns that model into a SAM template; the runtime
looks definitions up by name. Nothing here talks to AWS. The definitions themselves are in
``api/definitions.py`` and the declaration checks in ``api/checks.py`` (both re-exported here).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stepbridge.api.calendar import Calendar
from stepbridge.api.checks import LAMBDA_MAX_TIMEOUT as LAMBDA_MAX_TIMEOUT
from stepbridge.api.checks import LAMBDA_MEMORY_RANGE as LAMBDA_MEMORY_RANGE
from stepbridge.api.checks import check_event_type as check_event_type
from stepbridge.api.checks import check_filter as check_filter
from stepbridge.api.checks import check_jmespath as check_jmespath
from stepbridge.api.checks import check_name
from stepbridge.api.checks import kebab as kebab
from stepbridge.api.checks import step_limit_problems as step_limit_problems
from stepbridge.api.cron import every_to_cron, to_scheduler_expression, validate_timezone
from stepbridge.api.definitions import JwtAuth as JwtAuth
from stepbridge.api.definitions import (
    MachineDef,
    ScheduleDef,
    StepDef,
    TriggerDef,
    WebhookDef,
    WorkflowDef,
    declared_input,
)
from stepbridge.api.definitions import input_type_of as input_type_of
from stepbridge.api.deploy import (
    DEFAULT_ARCHITECTURE,
    DEFAULT_RUNTIME,
    FunctionConfig,
    check_runtime,
    check_tags,
    function_config,
)
from stepbridge.api.durations import Duration, check_workflow_timeout, optional_seconds, to_seconds
from stepbridge.api.eventpattern import check_event_pattern, trigger_pattern
from stepbridge.api.hints import remember_scope
from stepbridge.api.machine import StateMachine
from stepbridge.api.retry import Retry
from stepbridge.api.serde import Serde, check_serde
from stepbridge.errors import UnknownWorkflowError, WorkflowDefinitionError

F = TypeVar("F", bound=Callable[..., Any])

_STEP_ATTR = "__stepbridge_step__"
_WORKFLOW_ATTR = "__stepbridge_workflow__"


def _reply_window(app: str, value: Duration) -> float:
    """``step_reply_window`` in seconds: 0 (off) to 60 s (an orchestrator waiting longer pays more than a wake-up)."""
    try:
        seconds = to_seconds(value, what=f"App {app!r} step_reply_window")
    except (TypeError, ValueError) as exc:
        raise WorkflowDefinitionError(str(exc)) from None
    if seconds > MAX_REPLY_WINDOW_SECONDS:
        raise WorkflowDefinitionError(
            f"App {app!r}: step_reply_window must be at most {MAX_REPLY_WINDOW_SECONDS:g} s, got {seconds:g} s "
            "(0 turns in-process waiting off)"
        )
    return seconds


#: Longest ``step_reply_window``: waiting costs the orchestrator's duration ($6.67 per million steps per second at
#: 512 MB), so past a minute the wake-up through the queue is always cheaper.
MAX_REPLY_WINDOW_SECONDS = 60.0


@dataclass
class App:
    """One application: the unit the compiler turns into one SAM template.

    ``App("acme")`` then decorate: ``@app.workflow("name")``, ``@app.step(...)``; and register
    triggers with ``app.on``, ``app.every``, ``app.schedule``, ``app.webhook`` and
    ``app.state_machine``. The HTTP API requires IAM (SigV4) auth unless ``api_auth=JwtAuth(...)``.
    """

    name: str
    workflows: dict[str, WorkflowDef] = field(default_factory=dict)
    steps: dict[str, StepDef] = field(default_factory=dict)
    triggers: list[TriggerDef] = field(default_factory=list)
    schedules: list[ScheduleDef] = field(default_factory=list)
    webhooks: list[WebhookDef] = field(default_factory=list)
    machines: dict[str, MachineDef] = field(default_factory=dict)
    #: How HTTP API callers authenticate: ``None`` = IAM (SigV4), or a :class:`JwtAuth`.
    api_auth: JwtAuth | None = None
    #: Lambda runtime of every function (python3.11-python3.13) and instruction set (arm64 or x86_64).
    runtime: str = DEFAULT_RUNTIME
    architecture: str = DEFAULT_ARCHITECTURE
    #: Tags on every taggable resource of the stack.
    tags: Mapping[str, str] | None = None
    #: The orchestrator's function (where inline steps run): as on ``@app.step`` (see docs/API.md).
    environment: Mapping[str, str] | None = None
    policies: Sequence[Mapping[str, Any]] | None = None
    secrets: Mapping[str, str] | None = None
    reserved_concurrency: int | None = None
    layers: Sequence[Any] | None = None
    #: Default calendar of business durations (``BusinessDays``/``BusinessHours``) given without ``calendar=``.
    calendar: Calendar | None = None
    #: How long a finished execution and everything it left (journal, waiters, cached values, S3 payloads)
    #: is kept before DynamoDB TTL and the bucket's lifecycle rule remove it; ``None`` = kept for ever.
    retention: Duration | None = None
    #: ``retention`` in seconds (checked: at least a day), or ``None``.
    retention_seconds: float | None = field(init=False, default=None)
    #: How values without a step's or workflow's own ``serde=`` are stored (``api/serde.py``).
    serde: Serde | None = None
    #: How long the orchestrator waits in-process for a declared step that is the only thing the workflow waits
    #: for, instead of suspending until its wake-up comes through the queue (runtime/stepreply.py); 0 = never.
    step_reply_window: Duration = 1.0
    #: ``step_reply_window`` in seconds (checked: 0 to 60).
    step_reply_seconds: float = field(init=False, default=1.0)
    #: The checked form of the five keywords above.
    orchestrator_config: FunctionConfig = field(init=False, repr=False, default_factory=FunctionConfig)

    def __post_init__(self) -> None:
        check_runtime(self.runtime, self.architecture)
        self.tags = check_tags(self.tags)
        self.orchestrator_config = function_config(
            f"App {self.name!r} (the orchestrator)",
            policies=self.policies,
            environment=self.environment,
            secrets=self.secrets,
            reserved_concurrency=self.reserved_concurrency,
            layers=self.layers,
        )
        self.serde = check_serde(self.serde, f"App {self.name!r}")
        self.step_reply_seconds = _reply_window(self.name, self.step_reply_window)
        if self.retention is not None:
            seconds = optional_seconds(self.retention, what=f"App {self.name!r} retention")
            if seconds is None or seconds < 86_400:
                # The S3 lifecycle rule that expires payloads counts whole days (S3 User Guide, "Lifecycle
                # configuration elements": Expiration Days is a positive integer).
                raise WorkflowDefinitionError(
                    f"App {self.name!r}: retention must be at least 1 day (timedelta(days=1)), got {self.retention!r}"
                )
            self.retention_seconds = seconds
        if self.calendar is not None and not isinstance(self.calendar, Calendar):
            raise WorkflowDefinitionError(f"App calendar= must be a stepbridge.Calendar or None, got {self.calendar!r}")
        if self.api_auth is not None and not isinstance(self.api_auth, JwtAuth):
            raise WorkflowDefinitionError(f"api_auth must be a JwtAuth(...) or None, got {self.api_auth!r}")
        if not isinstance(self.name, str) or not re.match(r"^[a-z][a-z0-9-]{0,31}$", self.name):
            raise WorkflowDefinitionError(
                f"app name {self.name!r} is invalid: use 1-32 lowercase letters, digits or '-', starting "
                "with a letter (it prefixes AWS resource names)"
            )

    # ---- decorators ---------------------------------------------------------------------

    def workflow(
        self,
        name: str | None = None,
        *,
        cache_ttl: Duration | None = None,
        serde: Serde | None = None,
        timeout: Duration | None = None,
    ) -> Callable[[F], F]:
        """Register an ``async def wf(ctx, input)`` workflow under ``name`` (default: the function name, kebab-case).

        The input is validated and coerced with pydantic from the type hint of the second
        parameter. ``cache_ttl`` caches whole results by workflow name + input. ``timeout``
        (seconds or a ``timedelta``) is the whole execution's deadline, counted from its start:
        past it the execution unwinds (saga compensations run, children are cancelled) and ends
        TIMED_OUT (runtime/deadline.py).
        """

        def register(fn: F) -> F:
            wf_name = check_name("workflow", name or kebab(fn.__name__))
            wf_timeout = check_workflow_timeout(timeout, wf_name)
            if not inspect.iscoroutinefunction(fn):
                raise WorkflowDefinitionError(f"workflow '{wf_name}' must be an 'async def' function")
            if wf_name in self.workflows:
                raise WorkflowDefinitionError(f"workflow '{wf_name}' is defined twice in app '{self.name}'")
            remember_scope(fn)
            input_type, input_name = declared_input(fn)
            self.workflows[wf_name] = WorkflowDef(
                name=wf_name,
                fn=fn,
                input_type=input_type,
                takes_input=bool(input_name),
                input_name=input_name,
                cache_ttl=optional_seconds(cache_ttl, what=f"cache_ttl of workflow '{wf_name}'"),
                description=inspect.getdoc(fn) or "",
                serde=check_serde(serde, f"workflow '{wf_name}'"),
                timeout=wf_timeout,
            )
            setattr(fn, _WORKFLOW_ATTR, wf_name)
            return fn

        return register

    def step(
        self,
        fn: F | None = None,
        *,
        name: str | None = None,
        timeout: Duration = 30,
        memory: int = 256,
        retry: Retry | None = None,
        concurrency: int | None = None,
        at_most_once: bool = False,
        policies: Sequence[Mapping[str, Any]] | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
        layers: Sequence[Any] | None = None,
        serde: Serde | None = None,
    ) -> Any:
        """Declare a step that runs in its own Lambda function (usable bare or with options).

        ``timeout`` (seconds, at most Lambda's 900) is the function timeout; ``memory`` its size
        in MB; ``retry`` its default retry policy; ``concurrency`` its reserved concurrency.

        Steps are at-least-once by default: a crash after the function's side effect but before
        its result is journaled runs it again (pass ``stepbridge.step_context().idempotency_key``
        to the external system). ``at_most_once=True`` journals a "started" marker before the
        function runs and never runs it a second time: a duplicate invoke does nothing, and an
        attempt that crashed or timed out after starting fails the step with ``StepInterrupted``.
        Such a step is never retried (``retry`` may only allow one attempt).

        Deployment: ``policies`` (SAM policy templates or IAM statements) and ``secrets`` (name ->
        SSM parameter name or Secrets Manager ARN, read with ``stepbridge.secret(name)``) are granted
        to this function's role and nothing else's; ``environment`` lands in its environment
        variables; ``reserved_concurrency`` (same as ``concurrency``) and ``layers`` (extra layer ARNs)
        configure the function. See docs/API.md and docs/DEPLOY.md.
        """

        def register(func: F, scope_depth: int = 1) -> F:
            step_name = check_name("step", name or kebab(func.__name__))
            seconds = to_seconds(timeout, what=f"timeout of step '{step_name}'")
            limits = step_limit_problems(step_name, seconds, memory, concurrency)
            if limits:
                raise WorkflowDefinitionError(limits[0])
            if step_name in self.steps:
                raise WorkflowDefinitionError(f"step '{step_name}' is declared twice in app '{self.name}'")
            if concurrency is not None and reserved_concurrency is not None and concurrency != reserved_concurrency:
                raise WorkflowDefinitionError(
                    f"step '{step_name}': concurrency= and reserved_concurrency= are the same setting; give one"
                )
            config = function_config(
                f"step '{step_name}'",
                policies=policies,
                environment=environment,
                secrets=secrets,
                reserved_concurrency=reserved_concurrency if reserved_concurrency is not None else concurrency,
                layers=layers,
            )
            if at_most_once and retry is not None and retry.max_attempts > 1:
                raise WorkflowDefinitionError(
                    f"step '{step_name}': at_most_once steps run at most once, so they are never retried; "
                    f"drop retry= or use Retry(max_attempts=1) (got max_attempts={retry.max_attempts})"
                )
            self.steps[step_name] = StepDef(
                step_name,
                func,
                seconds,
                memory,
                Retry(max_attempts=1) if at_most_once else retry,
                config.reserved_concurrency,
                inspect.getdoc(func) or "",
                at_most_once,
                config,
                check_serde(serde, f"step '{step_name}'"),
            )
            setattr(func, _STEP_ATTR, step_name)
            remember_scope(func, scope_depth)
            return func

        if fn is not None:
            return register(fn, 2)  # bare @app.step: the user's scope is one frame further up
        return register

    # ---- triggers ---------------------------------------------------------------------------

    def on(
        self,
        event_types: str | Sequence[str],
        workflow: Callable[..., Any] | str,
        *,
        input: str | None = None,
        filter: Mapping[str, Any] | None = None,
        debounce: Duration | None = None,
        key: str | None = None,
        max_wait: Duration | None = None,
        name: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> TriggerDef:
        """Start ``workflow`` for each event of ``event_types`` (an EventBridge rule on the app bus).

        The workflow input is the event's ``detail``, or ``input`` (JMESPath over the whole event).
        ``filter`` is an EventBridge content filter on ``detail``. With ``debounce`` the start is
        trailing-edge debounced per ``key`` (JMESPath over the event), optionally bounded by ``max_wait``.
        ``sources`` starts it only for events from these EventBridge sources (the rule's pattern).
        """
        types = (event_types,) if isinstance(event_types, str) else tuple(event_types)
        if not types:
            raise WorkflowDefinitionError("app.on needs at least one event type")
        wf_name = self.workflow_name(workflow)
        where = f"trigger for workflow '{wf_name}'"
        for et in types:
            check_event_type(et, where=where)
        if debounce is None and (key is not None or max_wait is not None):
            raise WorkflowDefinitionError(f"{where}: key= and max_wait= only apply with debounce=")
        trigger_name = name or f"on-{'-'.join(types)}-{wf_name}"
        if any(t.name == trigger_name for t in self.triggers):
            raise WorkflowDefinitionError(f"trigger '{trigger_name}' is registered twice")
        where = f"trigger '{trigger_name}' (workflow '{wf_name}')"
        if input is not None:
            check_jmespath(input, where=where, what="input=")
        if key is not None:
            check_jmespath(key, where=where, what="key=")
        if filter is not None and not isinstance(filter, Mapping):
            raise WorkflowDefinitionError(
                f"{where}: filter must be a mapping (an EventBridge content filter on 'detail'), "
                f"e.g. {{'amount': [{{'numeric': ['>', 100]}}]}}; got {type(filter).__name__}"
            )
        accepted = check_filter(sources, f"{where}: sources")
        try:
            pattern = trigger_pattern(types, filter, accepted)
        except (TypeError, ValueError) as exc:
            raise WorkflowDefinitionError(f"{where}: filter is not JSON ({exc})") from None
        check_event_pattern(pattern, where=where)
        trigger = TriggerDef(
            name=trigger_name,
            event_types=types,
            workflow=wf_name,
            input=input,
            filter=filter,
            debounce=optional_seconds(debounce, what=f"{where}: debounce"),
            key=key,
            max_wait=optional_seconds(max_wait, what=f"{where}: max_wait"),
            sources=accepted,
        )
        self.triggers.append(trigger)
        return trigger

    def every(
        self,
        frequency: str,
        *,
        workflow: Callable[..., Any] | str,
        at: str = "00:00",
        on: str | None = None,
        timezone: str = "UTC",
        name: str | None = None,
    ) -> ScheduleDef:
        """Run ``workflow`` ``"hourly"`` (at minute ``:MM`` of ``at``), ``"daily"`` or ``"weekly"`` (``on`` a weekday).

        ``app.every("daily", at="09:00", workflow=daily_report, timezone="UTC")``.
        """
        wf_name = self.workflow_name(workflow)
        cron = every_to_cron(frequency, at=at, on=on, where=f"schedule for workflow '{wf_name}'")
        return self.schedule(name or f"{frequency}-{wf_name}", cron, wf_name, timezone=timezone)

    def schedule(
        self,
        name: str,
        cron: str,
        workflow: Callable[..., Any] | str,
        *,
        timezone: str = "UTC",
        input: Mapping[str, Any] | None = None,
    ) -> ScheduleDef:
        """Run ``workflow`` on a 5-field cron expression (``"0 2 * * 0"`` = 02:00 every Sunday) in ``timezone``."""
        check_name("schedule", name)
        wf_name = self.workflow_name(workflow)
        # Parses the cron and converts it now, so what Scheduler could not express fails here.
        to_scheduler_expression(cron, where=f"schedule '{name}' (workflow '{wf_name}')")
        validate_timezone(timezone, where=f"schedule '{name}'")
        if any(s.name == name for s in self.schedules):
            raise WorkflowDefinitionError(f"schedule '{name}' is registered twice")
        sched = ScheduleDef(name=name, cron=cron, workflow=wf_name, timezone=timezone, input=input)
        self.schedules.append(sched)
        return sched

    def webhook(
        self,
        path: str,
        *,
        provider: str = "hmac",
        route: Mapping[str, Callable[..., Any] | str] | None = None,
        workflow: Callable[..., Any] | str | None = None,
        secret_param: str | None = None,
        secret: str | None = None,
        tolerance: Duration = 300,
        type_key: str = "type",
        signature_header: str = "X-Signature",
        rate_limit: float = 50.0,
        burst_limit: int = 100,
    ) -> WebhookDef:
        """Accept webhooks on ``path``: verify with ``provider`` ("stripe" or "hmac") and start the routed workflow.

        ``route`` maps the payload's event type (``type_key``) to a workflow; ``workflow`` routes
        every payload. The secret comes from SSM Parameter Store (``secret_param``) or, for
        tests only, ``secret``. The route is public, so API Gateway throttles it to ``rate_limit``
        requests per second with bursts of ``burst_limit`` (429 beyond).
        """
        # API Gateway quotas: 10,000 requests per second and a burst of 5,000 per account and Region.
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int | float) or not 0 < rate_limit <= 10_000:
            raise WorkflowDefinitionError(f"webhook {path}: rate_limit must be > 0 and <= 10000 requests per second")
        if isinstance(burst_limit, bool) or not isinstance(burst_limit, int) or not 0 < burst_limit <= 5_000:
            raise WorkflowDefinitionError(f"webhook {path}: burst_limit must be an int from 1 to 5000")
        if provider not in ("stripe", "hmac"):
            raise WorkflowDefinitionError(f"webhook {path}: provider must be 'stripe' or 'hmac', got {provider!r}")
        if not path.startswith("/") or " " in path or "{" in path:
            raise WorkflowDefinitionError(f"webhook path {path!r} must start with '/' and have no spaces or parameters")
        if (secret_param is None) == (secret is None):
            raise WorkflowDefinitionError(f"webhook {path}: give exactly one of secret_param= or secret=")
        if secret is not None and (not isinstance(secret, str) or not secret.strip()):
            raise WorkflowDefinitionError(
                f"webhook {path}: secret= is empty, which would accept signatures anyone can compute; "
                "give the real signing secret (or secret_param= naming an SSM parameter)"
            )
        if secret_param is not None and (not isinstance(secret_param, str) or not secret_param.strip()):
            raise WorkflowDefinitionError(f"webhook {path}: secret_param= must name an SSM parameter")
        routes: dict[str, str] = {k: self.workflow_name(v) for k, v in (route or {}).items()}
        if workflow is not None:
            routes["*"] = self.workflow_name(workflow)
        if not routes:
            raise WorkflowDefinitionError(f"webhook {path}: give route={{event_type: workflow}} or workflow=")
        if any(w.path == path for w in self.webhooks):
            raise WorkflowDefinitionError(f"webhook path {path} is registered twice")
        check_jmespath(type_key, where=f"webhook {path}", what="type_key=")
        hook = WebhookDef(
            path=path,
            provider=provider,
            route=routes,
            secret_param=secret_param,
            secret=secret,
            tolerance=to_seconds(tolerance, what=f"webhook {path}: tolerance"),
            type_key=type_key,
            signature_header=signature_header,
            rate_limit=float(rate_limit),
            burst_limit=burst_limit,
        )
        self.webhooks.append(hook)
        return hook

    def state_machine(self, machine: StateMachine, *, events: Mapping[str, str], key: str) -> MachineDef:
        """Drive ``machine`` from events.

        ``events`` maps an event type to a machine event; ``key`` (JMESPath over the event)
        picks the instance, e.g. ``"detail.orderId"``.
        """
        machine.validate()
        where = f"state machine '{machine.name}'"
        check_jmespath(key, where=where, what="key=")
        known = set(machine.events())
        for event_type, machine_event in events.items():
            check_event_type(event_type, where=where)
            if machine_event not in known:
                raise WorkflowDefinitionError(
                    f"{where}: event '{event_type}' maps to '{machine_event}', which no transition uses "
                    f"(known: {sorted(known)})"
                )
        if machine.name in self.machines:
            raise WorkflowDefinitionError(f"{where} is registered twice")
        binding = MachineDef(machine=machine, events=dict(events), key=key)
        self.machines[machine.name] = binding
        return binding

    # ---- lookups -------------------------------------------------------------------------

    def workflow_name(self, workflow: Callable[..., Any] | str) -> str:
        """The registered name of ``workflow`` (a decorated function or a name)."""
        if isinstance(workflow, str):
            return workflow
        registered = getattr(workflow, _WORKFLOW_ATTR, None)
        if registered is None:
            raise WorkflowDefinitionError(
                f"{getattr(workflow, '__name__', workflow)!r} is not a workflow: decorate it with @app.workflow(...)"
            )
        return str(registered)

    def get_workflow(self, name: str) -> WorkflowDef:
        """The workflow called ``name``; ``UnknownWorkflowError`` lists the known ones otherwise."""
        try:
            return self.workflows[name]
        except KeyError:
            raise UnknownWorkflowError(
                f"unknown workflow '{name}' in app '{self.name}'; known: {sorted(self.workflows)}"
            ) from None

    def step_for(self, fn: Callable[..., Any]) -> StepDef | None:
        """The declared step behind ``fn``, or ``None`` for an inline step function."""
        name = getattr(fn, _STEP_ATTR, None)
        if name is None:
            return None
        return self.steps.get(str(name))

    def validate(self) -> None:
        """Cross-check references (triggers, schedules, webhooks -> workflows); raise naming the first problem."""
        for trig in self.triggers:
            self._check_ref(trig.workflow, f"trigger '{trig.name}'")
        for sched in self.schedules:
            self._check_ref(sched.workflow, f"schedule '{sched.name}'")
        for hook in self.webhooks:
            for wf in hook.route.values():
                self._check_ref(wf, f"webhook {hook.path}")

    def _check_ref(self, workflow: str, where: str) -> None:
        if workflow not in self.workflows:
            raise WorkflowDefinitionError(
                f"{where} names unknown workflow '{workflow}'; known: {sorted(self.workflows)}"
            )


__all__ = [
    "App",
    "MachineDef",
    "ScheduleDef",
    "StepDef",
    "TriggerDef",
    "WebhookDef",
    "WorkflowDef",
]
