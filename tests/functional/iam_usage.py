"""Record the AWS actions each Lambda function's code makes under LocalCloud (for the IAM-equals-use test).

LocalCloud calls the real handlers in-process, so the function running is known: the handler
entry points are wrapped to set it, and every botocore client created while recording gets a
``before-parameter-build`` hook (botocore's event system) that records ``(function, service:Action,
resource, partition key)``. The one call LocalCloud makes for a handler without botocore - the
orchestrator's asynchronous ``lambda:InvokeFunction`` of a declared step, which it delivers
in-process - is recorded where LocalCloud intercepts it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.session

from stepbridge.compiler import naming

CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("stepbridge_iam_function", default=None)

#: botocore operation name -> IAM action name, where they differ.
ACTION_NAMES = {"lambda:Invoke": "lambda:InvokeFunction"}


@dataclass(frozen=True)
class Call:
    """One AWS API call made by a function's code."""

    function: str  # logical id base: Orchestrator, Router, Api, Sweeper, Step...
    action: str  # IAM action, e.g. dynamodb:PutItem
    resource: str  # resource key, e.g. Table, Table/index/by-status, WorkQueue, EventBus
    pk: str | None = None  # DynamoDB partition key value, for LeadingKeys conditions


@dataclass
class Recorder:
    """Collects :class:`Call` s; ``names`` maps physical names (table, queue URL, group, bus) to resource keys."""

    names: dict[str, str] = field(default_factory=dict)
    calls: set[Call] = field(default_factory=set)
    unattributed: int = 0

    def resource(self, service: str, params: dict[str, Any]) -> tuple[str, str | None]:
        if service == "dynamodb":
            table = self.names.get(str(params.get("TableName")), f"?table:{params.get('TableName')}")
            index = params.get("IndexName")
            return (f"{table}/index/{index}" if index else table), _partition_key(params)
        if service == "sqs":
            url = str(params.get("QueueUrl"))
            return self.names.get(url, f"?queue:{url}"), None
        if service == "scheduler":
            group = str(params.get("GroupName", "default"))
            return self.names.get(group, f"?group:{group}") + "/*", None
        if service == "events":
            buses = {str(e.get("EventBusName", "default")) for e in params.get("Entries", [])}
            return ",".join(sorted(self.names.get(b, f"?bus:{b}") for b in buses)), None
        if service == "s3":
            bucket = self.names.get(str(params.get("Bucket")), f"?bucket:{params.get('Bucket')}")
            prefix = str(params.get("Key", "")).split("/", 1)[0]
            return f"{bucket}/{prefix}/*", None
        if service == "ssm":
            return "ssm:parameter/" + str(params.get("Name", "")).lstrip("/"), None
        return f"?{service}", None

    def on_call(self, service: str, operation: str, params: dict[str, Any]) -> None:
        function = CURRENT.get()
        if function is None:
            self.unattributed += 1  # LocalCloud's own plumbing, the client, the test
            return
        action = f"{service}:{operation}"
        resource, pk = self.resource(service, params)
        self.calls.add(Call(function, ACTION_NAMES.get(action, action), resource, pk))

    def record_invoke(self, function_base: str) -> None:
        caller = CURRENT.get()
        if caller is not None:
            self.calls.add(Call(caller, "lambda:InvokeFunction", f"{function_base}Function"))

    def by_function(self) -> dict[str, set[Call]]:
        out: dict[str, set[Call]] = {}
        for call in self.calls:
            out.setdefault(call.function, set()).add(call)
        return out


def _partition_key(params: dict[str, Any]) -> str | None:
    for source in ("Key", "Item"):
        found = params.get(source)
        if isinstance(found, dict) and isinstance(found.get("pk"), dict):
            return str(found["pk"].get("S"))
    values = params.get("ExpressionAttributeValues") or {}
    if "pk = :pk" in str(params.get("KeyConditionExpression", "")) and ":pk" in values:
        return str(values[":pk"].get("S"))
    return None


@contextlib.contextmanager
def as_function(name: str) -> Iterator[None]:
    token = CURRENT.set(name)
    try:
        yield
    finally:
        CURRENT.reset(token)


def _wrap(function: str | Callable[[Any], str], handle: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(event: Any, *args: Any, **kwargs: Any) -> Any:
        name = function(event) if callable(function) else function
        with as_function(name):
            return handle(event, *args, **kwargs)

    return wrapped


def _outside_functions(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = CURRENT.set(None)
        try:
            return method(*args, **kwargs)
        finally:
            CURRENT.reset(token)

    return wrapped


@contextlib.contextmanager
def recording(recorder: Recorder, step_bases: Callable[[], dict[str, str]]) -> Iterator[Recorder]:
    """Patch handler entry points and botocore client creation while the block runs.

    ``step_bases`` returns {declared step name: logical id base} of the app being driven.
    """
    from stepbridge.handlers import api, orchestrator, router, step, sweeper
    from stepbridge.local import cloud as local_cloud
    from stepbridge.local import handlerports

    with contextlib.ExitStack() as stack:
        mp = stack.enter_context(_monkeypatch())
        mp.setattr(orchestrator, "handle", _wrap(naming.ORCHESTRATOR, orchestrator.handle))
        mp.setattr(router, "handle", _wrap(naming.ROUTER, router.handle))
        mp.setattr(api, "handle", _wrap(naming.API, api.handle))
        mp.setattr(sweeper, "handle", _wrap(naming.SWEEPER, sweeper.handle))
        mp.setattr(step, "handle", _wrap(lambda ev: step_bases()[str(ev["step"])], step.handle))

        # LocalCloud's own delivery (receive/delete of queue messages while the API's "wait" runs the
        # cloud in-process) is the Lambda service's work, not the function's: no function runs then.
        # Likewise EventBridge's: a published event's SendMessage to the router queue (a rule's target).
        for method in ("run_until_idle", "run_until_complete", "_on_published"):
            original = getattr(local_cloud.LocalCloud, method)
            mp.setattr(local_cloud.LocalCloud, method, _outside_functions(original))

        original_invoke = handlerports.LocalEffects.invoke_step

        def invoke_step(self: Any, invocation: Any) -> None:
            recorder.record_invoke(step_bases()[invocation.step])
            original_invoke(self, invocation)

        mp.setattr(handlerports.LocalEffects, "invoke_step", invoke_step)
        original_call = handlerports.LocalEffects.call_step

        def call_step(self: Any, invocation: Any) -> Any:  # a synchronous invoke: the same grant
            recorder.record_invoke(step_bases()[invocation.step])
            return original_call(self, invocation)

        mp.setattr(handlerports.LocalEffects, "call_step", call_step)

        original_create = botocore.session.Session.create_client

        def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            client = original_create(self, service_name, *args, **kwargs)

            def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
                recorder.on_call(service_name, model.name, params)

            client.meta.events.register("before-parameter-build", hook)
            return client

        mp.setattr(botocore.session.Session, "create_client", create_client)
        yield recorder


@contextlib.contextmanager
def _monkeypatch() -> Iterator[Any]:
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        yield mp
