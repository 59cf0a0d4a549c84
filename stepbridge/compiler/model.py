"""The resource model: what the template will contain, derived from an ``App`` and checked.

``build_model`` is where every compile-time rule lives. It collects *all* problems and raises
one :class:`~stepbridge.errors.CompileError` listing them, each naming the workflow, step,
trigger or schedule to fix. The generators that follow only translate this model into
resources; they make no decisions of their own.
"""

from __future__ import annotations

import json
import math
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from stepbridge.api.app import (
    LAMBDA_MAX_TIMEOUT,
    LAMBDA_MEMORY_RANGE,
    App,
    ScheduleDef,
    StepDef,
    TriggerDef,
    WebhookDef,
    check_event_type,
    check_jmespath,
)
from stepbridge.api.cron import to_scheduler_expression
from stepbridge.api.deploy import DEFAULT_ARCHITECTURE, DEFAULT_RUNTIME, check_runtime
from stepbridge.api.eventpattern import check_event_pattern, trigger_pattern
from stepbridge.api.routes import ROUTES
from stepbridge.compiler import naming
from stepbridge.errors import CompileError, WorkflowDefinitionError
from stepbridge.runtime import keys
from stepbridge.runtime.vocabulary import Reason

#: The HTTP API's own routes: (SAM event id, method, path), the table the API handler routes by.
API_ROUTES = ROUTES
#: Paths API Gateway HTTP APIs accept for a literal (parameter-free) route.
_WEBHOOK_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%-]+(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$")
#: SQS queue names: at most 80 characters including ".fifo".
_QUEUE_NAME_MAX = 80
QUEUE_SUFFIX = "-work.fifo"
DLQ_SUFFIX = "-dlq.fifo"
#: CloudFormation's resource-count quota per template.
_MAX_RESOURCES = 500


@dataclass(frozen=True)
class CompileOptions:
    """Knobs of the generated template; the defaults are what ``stepbridge compile`` uses."""

    app_ref: str = "app:app"  # STEPBRIDGE_APP: module:attr relative to code_uri
    code_uri: str = "functions/"  # relative to the template's folder
    layer_uri: str = ".stepbridge-build/layer/"  # relative to the template's folder
    source: str = "functions/app.py"  # shown in the header comment
    stack_name: str | None = None  # assumed stack name for length checks (default: the app name)
    runtime: str = DEFAULT_RUNTIME  # set from App(runtime=) by build_model
    architecture: str = DEFAULT_ARCHITECTURE  # set from App(architecture=) by build_model
    log_level: str = "INFO"
    log_retention_days: int = 30
    orchestrator_timeout: int = 120
    orchestrator_memory: int = 512
    router_timeout: int = 30
    router_memory: int = 256
    api_timeout: int = 29  # the HTTP API integration times out at 30 s
    api_memory: int = 256
    queue_batch_size: int = 10
    max_receive_count: int = 5
    sweeper_timeout: int = 300
    sweeper_memory: int = 256
    sweeper_every_minutes: int = 5  # how often the sweeper looks for executions whose wake-up was lost


@dataclass(frozen=True)
class StepPlan:
    """A declared step: its own function, role and log group."""

    step: StepDef
    base_id: str  # logical ids: {base_id}Function / Role / LogGroup
    name_part: str  # the sanitised step in "${AWS::StackName}-{name_part}"
    timeout: int


@dataclass(frozen=True)
class TriggerPlan:
    """An ``app.on`` trigger: one rule on the bus that wraps the event for the router."""

    trigger: TriggerDef
    base_id: str  # {base_id}Rule ({base_id}Permission stays reserved: rules invoked the router before its queue)
    pattern: dict[str, Any]
    input_template: str


@dataclass(frozen=True)
class SchedulePlan:
    """A recurring schedule: one ``AWS::Scheduler::Schedule`` sending a WakeMessage to the queue."""

    schedule: ScheduleDef
    logical_id: str
    expression: str
    input: str


@dataclass(frozen=True)
class WebhookPlan:
    """A webhook route on the HTTP API (no IAM auth; the handler verifies the signature)."""

    hook: WebhookDef
    event_id: str


@dataclass(frozen=True)
class AppModel:
    """Everything the generators need, validated."""

    app: App
    options: CompileOptions
    steps: list[StepPlan] = field(default_factory=list)
    triggers: list[TriggerPlan] = field(default_factory=list)
    schedules: list[SchedulePlan] = field(default_factory=list)
    webhooks: list[WebhookPlan] = field(default_factory=list)
    stack_name: str = ""
    max_stack_name: int = 128

    @property
    def secret_params(self) -> list[str]:
        """SSM parameter names the API function reads webhook secrets from."""
        return sorted({h.hook.secret_param for h in self.webhooks if h.hook.secret_param})


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def check(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a validator; record its WorkflowDefinitionError instead of raising."""
        try:
            return fn(*args, **kwargs)
        except WorkflowDefinitionError as exc:
            self.add(str(exc))
            return None


def _duplicates(kind: str, names: list[str], problems: _Problems) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.add(f"{kind} '{name}' is defined more than once")
        seen.add(name)


def _check_refs(app: App, problems: _Problems) -> None:
    known = sorted(app.workflows)

    def ref(workflow: str, where: str) -> None:
        if workflow not in app.workflows:
            problems.add(f"{where} names unknown workflow '{workflow}'; known workflows: {known}")

    for trig in app.triggers:
        ref(trig.workflow, f"trigger '{trig.name}'")
    for sched in app.schedules:
        ref(sched.workflow, f"schedule '{sched.name}'")
    for hook in app.webhooks:
        for event_type, wf in hook.route.items():
            ref(wf, f"webhook {hook.path} (route {event_type!r})")


def _plan_steps(app: App, ids: naming.LogicalIds, problems: _Problems) -> list[StepPlan]:
    plans = []
    by_function: dict[str, str] = {}
    for name in sorted(app.steps):
        step = app.steps[name]
        where = f"step '{name}'"
        if step.name != name:
            problems.add(f"{where} is registered under a different name '{step.name}'")
        if not 1 <= step.timeout <= LAMBDA_MAX_TIMEOUT:
            problems.add(
                f"{where}: timeout {step.timeout:g} s is outside Lambda's 1-{LAMBDA_MAX_TIMEOUT} s range; "
                "split the work into several steps"
            )
        if not LAMBDA_MEMORY_RANGE[0] <= step.memory <= LAMBDA_MEMORY_RANGE[1]:
            problems.add(f"{where}: memory {step.memory} MB is outside Lambda's {LAMBDA_MEMORY_RANGE} MB range")
        if step.concurrency is not None and step.concurrency < 1:
            problems.add(f"{where}: concurrency must be >= 1, got {step.concurrency}")
        part = naming.sanitized_step(name)
        if not part:
            problems.add(f"{where}: the name has no letters or digits to build a function name from")
        elif part in by_function:
            problems.add(
                f"{where} and step '{by_function[part]}' would both get the function name "
                f"'<stack>-{part}'; rename one of them"
            )
        by_function[part] = name
        derived = tuple(f"Function{s}" for s in naming.SAM_FUNCTION_DERIVED)
        base = ids.allocate("Step", name, naming.FUNCTION_UNIT + derived)
        plans.append(StepPlan(step, base, part, math.ceil(step.timeout)))
    return plans


def _plan_triggers(app: App, ids: naming.LogicalIds, problems: _Problems) -> list[TriggerPlan]:
    plans = []
    for trig in sorted(app.triggers, key=lambda t: t.name):
        where = f"trigger '{trig.name}' (workflow '{trig.workflow}')"
        if not trig.event_types:
            problems.add(f"{where} has no event types")
        for event_type in trig.event_types:
            problems.check(check_event_type, event_type, where=where)
        pattern: dict[str, Any] = trigger_pattern(trig.event_types, None, trig.sources)
        if trig.filter is not None and not isinstance(trig.filter, Mapping):
            problems.add(f"{where}: filter must be a mapping (an EventBridge content filter on 'detail')")
        elif trig.filter is not None:
            try:
                pattern = trigger_pattern(trig.event_types, trig.filter, trig.sources)
            except (TypeError, ValueError) as exc:
                problems.add(f"{where}: filter is not JSON ({exc})")
            else:
                problems.check(check_event_pattern, pattern, where=where)
        for what, expression in (("input=", trig.input), ("key=", trig.key)):
            if expression is not None:
                problems.check(check_jmespath, expression, where=where, what=what)
        if any(c in trig.name for c in "<>"):
            problems.add(f"{where}: trigger names must not contain '<' or '>' (EventBridge input templates)")
        template = '{"trigger": ' + json.dumps(trig.name) + ', "event": <aws.events.event>}'
        base = ids.allocate("Trigger", trig.name, ("Rule", "Permission"))
        plans.append(TriggerPlan(trig, base, pattern, template))
    return plans


def _plan_schedules(app: App, ids: naming.LogicalIds, problems: _Problems) -> list[SchedulePlan]:
    plans = []
    zones = zoneinfo.available_timezones()
    for sched in sorted(app.schedules, key=lambda s: s.name):
        where = f"schedule '{sched.name}' (workflow '{sched.workflow}')"
        expression = problems.check(to_scheduler_expression, sched.cron, where=where)
        if sched.timezone != "UTC" and sched.timezone not in zones:
            problems.add(f"{where}: unknown timezone {sched.timezone!r}; use an IANA name such as 'Europe/Paris'")
        when = "<aws.scheduler.scheduled-time>"
        body = {
            "execution_id": keys.schedule_id(sched.name),
            "reason": Reason.SCHEDULE,
            "dedup": when,
            "data": {"schedule": sched.name, "scheduled_time": when},
        }
        logical_id = ids.allocate("Schedule", sched.name)
        plans.append(SchedulePlan(sched, logical_id, expression or "", json.dumps(body)))
    return plans


def _plan_webhooks(app: App, ids: naming.LogicalIds, problems: _Problems) -> list[WebhookPlan]:
    plans = []
    builtin = {path for _, _, path in API_ROUTES}
    for hook in sorted(app.webhooks, key=lambda h: h.path):
        where = f"webhook {hook.path}"
        if not _WEBHOOK_PATH_RE.match(hook.path):
            problems.add(f"{where}: the path must be '/segment/...' with URL-safe characters and no empty segment")
        if hook.path in builtin or hook.path.startswith(("/executions/", "/workflows/")):
            problems.add(f"{where}: the path clashes with the built-in API routes {sorted(builtin)}")
        event_id = ids.allocate("Webhook", hook.path)
        plans.append(WebhookPlan(hook, event_id))
    return plans


def _check_machines(app: App, problems: _Problems) -> None:
    for name, binding in sorted(app.machines.items()):
        machine = binding.machine
        where = f"state machine '{name}'"
        problems.check(machine.validate)
        known = set(machine.events())
        for event_type, machine_event in binding.events.items():
            problems.check(check_event_type, event_type, where=where)
            if machine_event not in known:
                problems.add(
                    f"{where}: event '{event_type}' maps to '{machine_event}', which no transition uses "
                    f"(known: {sorted(known)})"
                )


def _check_stack(model_steps: list[StepPlan], stack: str, problems: _Problems) -> int:
    if not naming.STACK_NAME_RE.match(stack) or stack.endswith("-"):
        problems.add(
            f"stack name {stack!r} is invalid: use a letter, then letters, digits or '-' (not ending in '-'), "
            "at most 128 characters"
        )
    limit = naming.max_stack_name_length(p.step.name for p in model_steps)
    for plan in model_steps:
        full = f"{stack}-{plan.name_part}"
        if len(full) > naming.FUNCTION_NAME_MAX:
            problems.add(
                f"step '{plan.step.name}': its function name '{full}' would be {len(full)} characters "
                f"(Lambda allows {naming.FUNCTION_NAME_MAX}); shorten the step name (@app.step(name=...)) "
                "or deploy with a shorter stack name (--stack-name)"
            )
    for suffix in (QUEUE_SUFFIX, DLQ_SUFFIX):
        if len(stack) + len(suffix) > _QUEUE_NAME_MAX:
            problems.add(f"stack name {stack!r} is too long for the queue name '<stack>{suffix}' (max 80)")
            break
    return min(limit, _QUEUE_NAME_MAX - len(QUEUE_SUFFIX))


#: Resources of an app without declared steps, triggers, schedules or webhooks, after the SAM transform
#: (44: main's 38 and the six task inbox routes of issue 15).
FIXED_RESOURCES = 44


def estimated_resources(app: App, triggers: int, schedules: int, webhooks: int) -> int:
    """Resources after the SAM transform (what CloudFormation's 500 per stack counts).

    44 fixed (the sweeper 5; the router queue, its policy, its dead-letter queue and the router's event
    source mapping 4; the two dead-letter queue alarms; the payload bucket and its policy; the six task
    inbox routes, ...);
    with declared steps, the shared log group and (when a step declares no grants) the shared role;
    per step a function and its EventInvokeConfig, plus a role when it declares policies/secrets;
    per trigger a rule (it targets the router queue: no permission); per schedule and per webhook one.
    tests/unit/test_deploy_scale.py checks this against a real transform.
    """
    steps = list(app.steps.values())
    shared = (1 + any(not s.config.has_grants for s in steps)) if steps else 0
    per_step = sum(3 if s.config.has_grants else 2 for s in steps)
    return FIXED_RESOURCES + shared + per_step + triggers + schedules + webhooks


def _check_function_configs(app: App, problems: _Problems) -> None:
    """Policy templates (names and parameters) and statement ids, per function: what the API could not
    check without aws-sam-translator; and the user's share of Lambda's 4 KB of environment variables."""
    from stepbridge.api.deploy import LAMBDA_ENV_BYTES, env_bytes
    from stepbridge.compiler import userpolicies

    configs = [(f"App {app.name!r} (the orchestrator)", app.orchestrator_config)]
    configs += [(f"step '{name}'", app.steps[name].config) for name in sorted(app.steps)]
    from stepbridge.compiler import iam

    framework = iam.step_statements(naming.DECLARED_STEPS)
    for where, config in configs:
        statements = problems.check(userpolicies.user_statements, where, config)
        if statements and where.startswith("step "):  # the orchestrator's is checked with its own grants
            problems.check(userpolicies.check_role_size, where, framework + statements)
        variables = dict(config.environment)
        if config.secrets:
            variables["STEPBRIDGE_SECRETS"] = json.dumps(dict(config.secrets), separators=(",", ":"))
        # The framework's own variables take about 1 KB once resolved (names of the table, queue, bus...).
        if env_bytes(variables) > LAMBDA_ENV_BYTES - 1024:
            problems.add(
                f"{where}: its environment variables and secrets map take {env_bytes(variables)} bytes; with "
                f"stepbridge's own (about 1 KB) they would pass Lambda's {LAMBDA_ENV_BYTES}-byte limit"
            )


def build_model(app: App, options: CompileOptions | None = None) -> AppModel:
    """Validate ``app`` and derive every name the template needs; raise one CompileError for all problems."""
    opts = replace(options or CompileOptions(), runtime=app.runtime, architecture=app.architecture)
    problems = _Problems()
    problems.check(check_runtime, app.runtime, app.architecture)
    _check_function_configs(app, problems)
    _check_refs(app, problems)
    _duplicates("trigger", [t.name for t in app.triggers], problems)
    _duplicates("schedule", [s.name for s in app.schedules], problems)
    _duplicates("webhook path", [h.path for h in app.webhooks], problems)
    _check_machines(app, problems)

    ids = naming.LogicalIds()
    ids.reserve(
        naming.LAYER,
        naming.TABLE,
        naming.BUS,
        naming.QUEUE,
        naming.DLQ,
        naming.ROUTER_DLQ,
        naming.ROUTER_QUEUE,
        naming.ROUTER_QUEUE_POLICY,
        f"{naming.ROUTER}Function{naming.ROUTER_QUEUE_EVENT}",
        naming.TIMER_GROUP,
        naming.SCHEDULER_ROLE,
        naming.SWEEPER_SCHEDULE_ROLE,
        naming.JWT_ISSUER_PARAM,
        naming.JWT_AUDIENCE_PARAM,
        naming.HTTP_API,
        naming.CATCH_ALL_RULE,
        naming.CATCH_ALL_PERMISSION,
        *(naming.DECLARED_STEPS + s for s in naming.FUNCTION_UNIT),
    )
    for base in (naming.ORCHESTRATOR, naming.ROUTER, naming.API, naming.SWEEPER):
        ids.reserve(
            *(base + s for s in naming.FUNCTION_UNIT), *(f"{base}Function{s}" for s in naming.SAM_FUNCTION_DERIVED)
        )
    ids.reserve(*(event_id for event_id, _, _ in API_ROUTES))
    ids.reserve(f"{naming.SWEEPER}FunctionSweep")  # the schedule SAM derives from the sweeper's event
    steps = _plan_steps(app, ids, problems)
    triggers = _plan_triggers(app, ids, problems)
    schedules = _plan_schedules(app, ids, problems)
    webhooks = _plan_webhooks(app, ids, problems)
    stack = opts.stack_name or app.name
    max_stack = _check_stack(steps, stack, problems)

    resources = estimated_resources(app, len(triggers), len(schedules), len(webhooks))
    if resources > _MAX_RESOURCES:
        problems.add(
            f"the template would hold about {resources} resources, above CloudFormation's {_MAX_RESOURCES} per "
            "stack; split the app or use fewer declared steps (steps with policies=/secrets= cost one more "
            "resource each: their own role)"
        )
    if problems.items:
        listing = "\n".join(f"  - {item}" for item in problems.items)
        raise CompileError(f"cannot compile app '{app.name}':\n{listing}")
    return AppModel(
        app=app,
        options=opts,
        steps=steps,
        triggers=triggers,
        schedules=schedules,
        webhooks=webhooks,
        stack_name=stack,
        max_stack_name=max_stack,
    )
