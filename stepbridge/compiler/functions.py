"""Lambda functions (orchestrator, router, API, sweeper, one per declared step), their Globals and the HTTP API.

Each function is a *unit* of three resources: a log group, a role that may write only to that
log group (plus what the function does, see :mod:`stepbridge.compiler.iam`), and the
``AWS::Serverless::Function`` that logs to the group (``LoggingConfig``) and assumes the role.
"""

from __future__ import annotations

import json

from stepbridge import config
from stepbridge.api.deploy import FunctionConfig
from stepbridge.compiler import iam, monitoring, naming, userpolicies
from stepbridge.compiler.intrinsics import GetAtt, Ref, Sub
from stepbridge.compiler.model import API_ROUTES, AppModel, StepPlan
from stepbridge.compiler.scale import STEP_TAG, invoke_steps_statement
from stepbridge.compiler.storage import Resource
from stepbridge.config import ENV_SECRETS

HANDLERS = {
    naming.ORCHESTRATOR: "stepbridge.handlers.orchestrator.handler",
    naming.ROUTER: "stepbridge.handlers.router.handler",
    naming.API: "stepbridge.handlers.api.handler",
    naming.SWEEPER: "stepbridge.handlers.sweeper.handler",
    "step": "stepbridge.handlers.step.handler",
}


def environment(model: AppModel) -> dict[str, object]:
    """Variables every function gets (Globals): Powertools settings and ``stepbridge.config``'s names."""
    app = model.app
    return {
        "POWERTOOLS_SERVICE_NAME": app.name,
        "POWERTOOLS_LOG_LEVEL": model.options.log_level,
        "POWERTOOLS_METRICS_NAMESPACE": f"stepbridge/{app.name}",
        config.ENV_APP: model.options.app_ref,
        config.ENV_STACK: Ref("AWS::StackName"),
        config.ENV_TABLE: Ref(naming.TABLE),
        config.ENV_BUS: Ref(naming.BUS),
        config.ENV_QUEUE_URL: Ref(naming.QUEUE),
        config.ENV_QUEUE_ARN: GetAtt(naming.QUEUE, "Arn"),
        config.ENV_SCHEDULE_GROUP: Ref(naming.TIMER_GROUP),
        config.ENV_SCHEDULER_ROLE_ARN: GetAtt(naming.SCHEDULER_ROLE, "Arn"),
        config.ENV_PAYLOAD_BUCKET: Ref(naming.PAYLOAD_BUCKET),
        **({config.ENV_RETENTION: str(int(app.retention_seconds))} if app.retention_seconds is not None else {}),
    }


def globals_section(model: AppModel) -> dict[str, object]:
    """``Globals.Function``: runtime, architecture, code, layer, tracing and the shared environment."""
    opts = model.options
    return {
        "Function": {
            "Runtime": opts.runtime,
            "Architectures": [opts.architecture],
            "CodeUri": opts.code_uri,
            "Layers": [Ref(naming.LAYER)],
            "Tracing": "Active",
            "Environment": {"Variables": environment(model)},
        }
    }


#: The orchestrator wakes itself through the work queue that invokes it (a child reporting to its parent, a
#: timer already due), and a declared step it invokes wakes it through that queue: a chain of wake-ups of one
#: execution is a Lambda -> SQS -> Lambda loop by design. Lambda's recursive loop detection stops a function
#: invoked about 16 times in one such chain unless its ``RecursiveLoop`` is ``Allow`` (default ``Terminate``:
#: https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html), which would leave an execution
#: waiting for the sweeper every 16 wake-ups. The loop is bounded by the workflow itself (each wake-up
#: follows a durable record), and the FIFO queue's dead-letter queue catches a poison message.
RECURSIVE_LOOP = {"RecursiveLoop": "Allow"}


def function_unit(
    model: AppModel,
    base: str,
    *,
    description: str,
    role_description: str,
    handler: str,
    timeout: int,
    memory: int,
    statements: list[iam.Statement],
    extra: dict[str, object] | None = None,
) -> list[Resource]:
    """Log group + role + function for one Lambda function."""
    log_group = {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {"RetentionInDays": model.options.log_retention_days},
    }
    role = iam.role(role_description, base[:128], statements, service="lambda.amazonaws.com")
    props: dict[str, object] = {}
    if extra and "FunctionName" in extra:
        props["FunctionName"] = extra.pop("FunctionName")
    props.update(
        {
            "Description": description[:256],
            "Handler": handler,
            "Timeout": timeout,
            "MemorySize": memory,
            "Role": GetAtt(f"{base}Role", "Arn"),
            "LoggingConfig": {"LogGroup": Ref(f"{base}LogGroup")},
        }
    )
    props.update(extra or {})
    function = {"Type": "AWS::Serverless::Function", "Properties": props}
    return [(f"{base}LogGroup", log_group), (f"{base}Role", role), (f"{base}Function", function)]


def orchestrator(model: AppModel) -> list[Resource]:
    """Replays executions; woken through the FIFO work queue, reporting per-message failures."""
    opts = model.options
    events = {
        "WorkQueueEvent": {
            "Type": "SQS",
            "Properties": {
                "Queue": GetAtt(naming.QUEUE, "Arn"),
                "BatchSize": opts.queue_batch_size,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        }
    }
    config = model.app.orchestrator_config
    extra: dict[str, object] = {"Events": events, **RECURSIVE_LOOP, **user_function_settings(config)}
    statements = [invoke_steps_statement(model, s) for s in iam.orchestrator_statements(model)]
    return function_unit(
        model,
        naming.ORCHESTRATOR,
        description="stepbridge orchestrator: replays workflow executions woken by the work queue",
        role_description="Least privilege for the stepbridge orchestrator",
        handler=HANDLERS[naming.ORCHESTRATOR],
        timeout=opts.orchestrator_timeout,
        memory=opts.orchestrator_memory,
        statements=orchestrator_statements(model, statements, config),
        extra=extra,
    )


def orchestrator_statements(
    model: AppModel, framework: list[iam.Statement], config: FunctionConfig
) -> list[iam.Statement]:
    """The framework's orchestrator grants plus the App's declared ones, within IAM's policy size."""
    where = f"App {model.app.name!r} (the orchestrator)"
    statements = framework + userpolicies.user_statements(where, config)
    userpolicies.check_role_size(where, statements)
    return statements


def user_environment(config: FunctionConfig, base: dict[str, object] | None = None) -> dict[str, object]:
    """A function's own variables: ``base`` (the framework's), the user's ``environment=`` and, when
    it declared secrets, ``STEPBRIDGE_SECRETS`` (name -> parameter/ARN, JSON) for ``stepbridge.secret``."""
    variables: dict[str, object] = dict(base or {})
    variables.update(config.environment)
    if config.secrets:
        variables[ENV_SECRETS] = json.dumps(dict(sorted(config.secrets.items())), separators=(",", ":"))
    return variables


def user_function_settings(config: FunctionConfig, base_env: dict[str, object] | None = None) -> dict[str, object]:
    """``Environment``, ``ReservedConcurrentExecutions`` and extra ``Layers`` (SAM appends them to the
    Globals layer) of a function, from its :class:`FunctionConfig`."""
    out: dict[str, object] = {}
    variables = user_environment(config, base_env)
    if variables:
        out["Environment"] = {"Variables": variables}
    if config.reserved_concurrency is not None:
        out["ReservedConcurrentExecutions"] = config.reserved_concurrency
    if config.layers:
        out["Layers"] = list(config.layers)
    return out


def router(model: AppModel) -> list[Resource]:
    """Consumes the router queue (the bus's rules deliver there): trigger starts, waiter matches, state
    machines, the event log."""
    opts = model.options
    return function_unit(
        model,
        naming.ROUTER,
        description="stepbridge router: event triggers, wait_for waiters, state machines, event log",
        role_description="Least privilege for the stepbridge router",
        handler=HANDLERS[naming.ROUTER],
        timeout=opts.router_timeout,
        memory=opts.router_memory,
        statements=iam.router_statements(model),
        extra={
            # The rules deliver to the router queue; a record whose routing failed is reported and
            # received again, up to the queue's maxReceiveCount, then dead-lettered by SQS.
            "Events": {
                naming.ROUTER_QUEUE_EVENT: {
                    "Type": "SQS",
                    "Properties": {
                        "Queue": GetAtt(naming.ROUTER_QUEUE, "Arn"),
                        "BatchSize": config.ROUTER_BATCH_SIZE,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    },
                }
            }
        },
    )


def api(model: AppModel) -> list[Resource]:
    """The HTTP API handler: IAM-authorised routes plus one public, signature-verified route per webhook."""
    opts = model.options
    events: dict[str, object] = {}
    for event_id, method, path in API_ROUTES:
        events[event_id] = {
            "Type": "HttpApi",
            "Properties": {"ApiId": Ref(naming.HTTP_API), "Method": method, "Path": path},
        }
    for plan in model.webhooks:
        events[plan.event_id] = {
            "Type": "HttpApi",
            "Properties": {
                "ApiId": Ref(naming.HTTP_API),
                "Method": "POST",
                "Path": plan.hook.path,
                "Auth": {"Authorizer": "NONE"},  # verified in code (provider signature)
            },
        }
    return function_unit(
        model,
        naming.API,
        description="stepbridge HTTP API: start, describe and cancel executions, send events, webhooks",
        role_description="Least privilege for the stepbridge HTTP API function",
        handler=HANDLERS[naming.API],
        timeout=opts.api_timeout,
        memory=opts.api_memory,
        statements=iam.api_statements(model),
        extra={"Events": events},
    )


def sweeper(model: AppModel) -> list[Resource]:
    """Recovery: every few minutes, wake executions whose timer or step report was lost (see runtime/sweeper.py).

    Scheduled by EventBridge Scheduler (SAM ``ScheduleV2``) assuming its own role, which may invoke
    only this function. No async retries: the next run sweeps again anyway.
    """
    opts = model.options
    every = opts.sweeper_every_minutes
    events = {
        "Sweep": {
            "Type": "ScheduleV2",
            "Properties": {
                "Description": "stepbridge sweeper: wake executions whose wake-up was lost",
                "ScheduleExpression": f"rate({every} minute{'' if every == 1 else 's'})",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60 * every},
                "RoleArn": GetAtt(naming.SWEEPER_SCHEDULE_ROLE, "Arn"),
                "OmitName": True,  # CloudFormation names it: two stacks in one account must not collide
            },
        }
    }
    unit = function_unit(
        model,
        naming.SWEEPER,
        description="stepbridge sweeper: resumes executions whose timer or step report was lost",
        role_description="Least privilege for the stepbridge sweeper",
        handler=HANDLERS[naming.SWEEPER],
        timeout=opts.sweeper_timeout,
        memory=opts.sweeper_memory,
        statements=iam.sweeper_statements(),
        extra={"Events": events, "EventInvokeConfig": {"MaximumRetryAttempts": 0}},
    )
    return [*unit, sweeper_schedule_role(model)]


def sweeper_schedule_role(model: AppModel) -> Resource:
    """The role EventBridge Scheduler assumes to run the sweeper: invoke that one function, nothing else."""
    return naming.SWEEPER_SCHEDULE_ROLE, iam.role(
        "EventBridge Scheduler invokes the stepbridge sweeper",
        "invoke-sweeper",
        iam.sweeper_schedule_statements(),
        service="scheduler.amazonaws.com",
    )


def declared_steps_shared(model: AppModel) -> list[Resource]:
    """The declared steps' shared log group, and the role of every step without grants of its own.

    One log group for all steps (Lambda names each stream ``YYYY/MM/DD/<function name>[...]`` in a
    shared group, Lambda developer guide "Configuring CloudWatch log groups") and one role for the
    steps that declare no ``policies``/``secrets``: their grants are identical, so sharing widens
    nothing, and a declared step then costs two resources (function + EventInvokeConfig) instead of
    four - 150 steps fit in one stack (docs/DEPLOY.md). A step with grants gets its own role.
    """
    if not model.steps:
        return []
    base = naming.DECLARED_STEPS
    out: list[Resource] = [
        (f"{base}LogGroup", {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"RetentionInDays": model.options.log_retention_days},
        })
    ]
    if any(not plan.step.config.has_grants for plan in model.steps):
        out.append((f"{base}Role", iam.role(
            "Least privilege shared by the stepbridge declared steps without grants of their own",
            base, iam.step_statements(base), service="lambda.amazonaws.com",
        )))
    return out


def step(model: AppModel, plan: StepPlan) -> list[Resource]:
    """A declared step's own function: its timeout and memory, no async retries (the orchestrator retries).

    Logs go to the shared ``DeclaredStepsLogGroup``; the role is the shared ``DeclaredStepsRole`` unless
    the step declared ``policies``/``secrets``, which get a role of its own (framework grants + exactly those).
    """
    definition = plan.step
    cfg = definition.config
    summary = (definition.description.splitlines() or [""])[0]
    description = f"stepbridge step '{definition.name}'" + (f": {summary}" if summary else "")
    shared = naming.DECLARED_STEPS
    props: dict[str, object] = {
        "FunctionName": Sub(f"${{AWS::StackName}}-{plan.name_part}"),
        "Description": description[:256],
        "Handler": HANDLERS["step"],
        "Timeout": plan.timeout,
        "MemorySize": definition.memory,
        "Role": GetAtt(f"{plan.base_id}Role" if cfg.has_grants else f"{shared}Role", "Arn"),
        "LoggingConfig": {"LogGroup": Ref(f"{shared}LogGroup")},
        "EventInvokeConfig": {"MaximumRetryAttempts": 0},
        **RECURSIVE_LOOP,  # it is invoked by the orchestrator and wakes it through the work queue
        # Lets the orchestrator's invoke grant name "this stack's step functions" by tag when the list
        # of ARNs would not fit its policy (compiler/scale.py).
        "Tags": {STEP_TAG: "step"},
    }
    props.update(user_function_settings(cfg, {config.ENV_STEP: definition.name}))
    if definition.concurrency is not None:
        props["ReservedConcurrentExecutions"] = definition.concurrency
    out: list[Resource] = []
    if cfg.has_grants:
        where = f"step '{definition.name}'"
        statements = iam.step_statements(shared) + userpolicies.user_statements(where, cfg)
        userpolicies.check_role_size(where, statements)
        out.append((f"{plan.base_id}Role", iam.role(
            f"Least privilege for the stepbridge step {definition.name!r} (with its declared grants)",
            plan.base_id[:128], statements, service="lambda.amazonaws.com",
        )))
    out.append((f"{plan.base_id}Function", {"Type": "AWS::Serverless::Function", "Properties": props}))
    return out


def http_api(model: AppModel) -> Resource:
    """The HTTP API; every route requires SigV4 (AWS_IAM) - or a JWT with ``App(api_auth=JwtAuth(...))`` -
    unless it says ``Authorizer: NONE`` (webhooks, which check their signature in code)."""
    jwt = model.app.api_auth
    auth: dict[str, object]
    if jwt is None:
        auth = {"EnableIamAuthorizer": True, "DefaultAuthorizer": "AWS_IAM"}
    else:
        authorizer: dict[str, object] = {
            "IdentitySource": jwt.identity_source,
            "JwtConfiguration": {
                "issuer": Ref(naming.JWT_ISSUER_PARAM),
                "audience": Ref(naming.JWT_AUDIENCE_PARAM),
            },
        }
        if jwt.scopes:
            authorizer["AuthorizationScopes"] = list(jwt.scopes)
        auth = {"Authorizers": {naming.JWT_AUTHORIZER: authorizer}, "DefaultAuthorizer": naming.JWT_AUTHORIZER}
    props: dict[str, object] = {
        "Description": f"stepbridge app '{model.app.name}': executions, events and webhooks",
        "Auth": auth,
    }
    throttles = monitoring.route_settings(model)  # public webhook routes are throttled (compiler/monitoring.py)
    if throttles:
        props["RouteSettings"] = throttles
    return naming.HTTP_API, {"Type": "AWS::Serverless::HttpApi", "Properties": props}


def parameters(model: AppModel) -> dict[str, object]:
    """Template parameters: the JWT issuer and audience when the API uses a JWT authorizer (else none)."""
    jwt = model.app.api_auth
    if jwt is None:
        return {}
    return {
        naming.JWT_ISSUER_PARAM: {
            "Type": "String",
            "Description": "Issuer URL of the JWTs the HTTP API accepts (e.g. a Cognito user pool)",
            "Default": jwt.issuer,
            "AllowedPattern": "^https://.+",
        },
        naming.JWT_AUDIENCE_PARAM: {
            "Type": "CommaDelimitedList",
            "Description": "Accepted audiences (client ids) of those JWTs, comma-separated",
            "Default": ",".join(jwt.audience),
        },
    }
