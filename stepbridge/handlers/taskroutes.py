"""The task inbox over HTTP (docs/API.md, "Human tasks"); served by the HTTP API function.

* ``GET /tasks?assignee=&status=`` -> 200 ``{"tasks": [...]}``: the caller's own inbox (``assignee``
  defaults to the caller's mapped name and must be one of the caller's names; ``status`` defaults to ``open``)
* ``GET /tasks/{id}`` -> 200 the task with its audit trail (anyone who is or was assigned)
* ``POST /tasks/{id}/claim`` | ``/release`` (no body) -> 200 the task
* ``POST /tasks/{id}/complete`` ``{"decision", "data"?, "comment"?}`` -> 200 the task
* ``POST /tasks/{id}/reassign`` ``{"to": [...]}`` -> 200 the task

The acting person is the request's authenticated identity - ``requestContext.authorizer`` (IAM principal
ARN or JWT subject, runtime/provenance.py) mapped to assignee names by ``runtime.tasks.identity_names`` -
never a body field: a body naming a person (``by``, ``user`` ...) is refused with 400. No identity: 401.
Not an assignee: 403; completed, cancelled or claimed by someone else: 409; nothing changes on a refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from stepbridge.errors import TaskError, TaskForbidden
from stepbridge.handlers import httpinput
from stepbridge.handlers.env import Environment
from stepbridge.handlers.httpreply import ApiError, Reply, raw_body
from stepbridge.handlers.httpreply import json_reply as _json
from stepbridge.runtime import provenance
from stepbridge.runtime import tasks as service


class HttpApi(Protocol):
    """What the task routes use of ``handlers.api.HttpApi`` (a protocol: this module never imports the API)."""

    resolver: ApiGatewayResolver

    @property
    def env(self) -> Environment: ...

    @property
    def _event(self) -> Mapping[str, object]: ...

    def _body(self, *, allowed: set[str], required: bool = False) -> dict[str, object]: ...

#: Body fields that would name the acting person: refused, the identity comes from the authorizer.
IDENTITY_FIELDS = frozenset({"by", "user", "assignee", "identity", "caller", "principal", "sub"})


def _caller(api: HttpApi) -> str:
    identity = provenance.caller_identity(api._event)
    if identity is None:
        raise ApiError(401, "unauthenticated", "task routes need an authenticated caller (IAM SigV4 or a JWT)")
    return identity


def _body(api: HttpApi, allowed: set[str]) -> dict[str, object]:
    if raw_body(api._event).strip():
        try:
            data = httpinput.loads(raw_body(api._event))
        except httpinput.BadJson as exc:
            raise ApiError(400, exc.code, str(exc)) from None
        if isinstance(data, dict) and IDENTITY_FIELDS & set(data):
            named = sorted(IDENTITY_FIELDS & set(data))
            raise ApiError(400, "identity_in_body", f"the body names a person ({', '.join(named)}); the caller is "
                           "the request's authenticated identity (IAM principal or JWT subject), never a body field")
    return api._body(allowed=allowed)


def _guard(route: Callable[..., Reply]) -> Callable[..., Reply]:
    """Answer the inbox's refusals (``TaskError``) with their status and code."""

    def call(*args: str) -> Reply:
        try:
            return route(*args)
        except TaskError as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from None

    call.__name__ = route.__name__
    return call


def routes(api: HttpApi) -> dict[str, Callable[..., Reply]]:
    """The task routes of ``api`` by SAM event id (``stepbridge.api.routes.ROUTES``)."""
    def list_tasks() -> Reply:
        caller = _caller(api)
        params = api.resolver.current_event.query_string_parameters or {}
        assignee = params.get("assignee") or service.inbox_name(caller)
        if assignee not in service.identity_names(caller):
            raise TaskForbidden(f"{caller} may list only their own inbox, not {assignee}'s")
        status = params.get("status", "open") or None
        return _json(200, {"assignee": assignee, "tasks": service.list_tasks(api.env.store, assignee, status)})

    def describe(task_id: str) -> Reply:
        caller = _caller(api)
        task = service.get_task(api.env.store, unquote(task_id))
        if not task.may_view(caller):
            raise TaskForbidden(f"{caller} is not an assignee of task '{task.task_id}'")
        return _json(200, task.to_dict())

    def claim(task_id: str) -> Reply:
        caller = _caller(api)
        _body(api, set())
        return _json(200, service.claim_task(api.env.store, api.env.effects, unquote(task_id), caller).to_dict())

    def release(task_id: str) -> Reply:
        caller = _caller(api)
        _body(api, set())
        return _json(200, service.release_task(api.env.store, api.env.effects, unquote(task_id), caller).to_dict())

    def complete(task_id: str) -> Reply:
        caller = _caller(api)
        body = _body(api, {"decision", "data", "comment"})
        task = service.complete_task(api.env.store, api.env.effects, unquote(task_id), caller,
                                     body.get("decision"),  # checked by the service
                                     body.get("data"), body.get("comment", ""))
        return _json(200, task.to_dict())

    def reassign(task_id: str) -> Reply:
        caller = _caller(api)
        body = _body(api, {"to"})
        task = service.reassign_task(api.env.store, api.env.effects, unquote(task_id), caller, body.get("to"))
        return _json(200, task.to_dict())

    return {
        "ListTasks": _guard(list_tasks), "DescribeTask": _guard(describe), "ClaimTask": _guard(claim),
        "ReleaseTask": _guard(release), "CompleteTask": _guard(complete), "ReassignTask": _guard(reassign),
    }


__all__ = ["IDENTITY_FIELDS", "routes"]
