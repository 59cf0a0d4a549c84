"""HTTP API Lambda, routed by Powertools' event handler.

Serves API Gateway HTTP API (payload format 2.0, what the template deploys), REST API proxy
(payload format 1.0) and Lambda function URL requests: the event's shape picks Powertools'
``APIGatewayHttpResolver``, ``APIGatewayRestResolver`` or ``LambdaFunctionUrlResolver``, each
serving the one route table of :mod:`stepbridge.api.routes`. Anything else is logged and answered 400.

Routes (docs/API.md, "HTTP API" and "Webhooks"):

* ``POST /workflows/{name}/executions`` ``{"input", "execution_id"?, "wait"?}`` -> 202 ``{"execution_id", "status"}``,
  or with ``wait`` (seconds, 0 < wait <= 25) 200 ``{"execution_id", "status", "result"?, "error"?}`` once it ended
* ``GET /executions/{id}`` -> 200 the execution's description
* ``POST /events`` ``{"type", "detail", "source"?}`` -> 202 ``{"id"}``; the event carries the caller's
  identity (IAM principal or JWT subject) and can never claim the app's own source (runtime/provenance.py)
* ``POST /executions/{id}/cancel`` ``{"compensate"?}`` -> 200 the description
* ``POST /callbacks/{token}/success`` ``{"result"?}``, ``/failure`` ``{"error"?, "message"?}``,
  ``/heartbeat`` -> 200 ``{"execution_id", "callback", "status"}``; 404 unknown token, 409 already
  completed, failed or timed out (a token is single-use; runtime/callbacks.py)
* the task inbox: ``GET /tasks``, ``GET /tasks/{id}``, ``POST /tasks/{id}/claim|complete|release|reassign``
  (handlers/taskroutes.py)
* ``POST <webhook path>`` for each ``app.webhook(...)`` -> 200 ``{"received": true}``

Errors are JSON ``{"error": <code>, "message": <text>}``. Every check runs before anything is
started or published, so a rejected request has no effect.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import pydantic
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from stepbridge.api.app import WebhookDef, WorkflowDef, check_event_type, input_type_of
from stepbridge.api.routes import ROUTES, path_regex, powertools_path
from stepbridge.client import ExecutionDescription
from stepbridge.errors import (
    CallbackAlreadyCompleted,
    CallbackNotFound,
    ExecutionAlreadyExists,
    ExecutionNotFound,
    ExecutionStillRunning,
    PayloadTooLarge,
    ResultNotSerializable,
    UnknownWorkflowError,
    WorkflowDefinitionError,
)
from stepbridge.handlers import httpinput, shapes, taskroutes
from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.handlers.httpreply import JSON_TYPE, ApiError, Reply, raw_body
from stepbridge.handlers.httpreply import json_reply as _json
from stepbridge.runtime import callbacks, provenance, webhooks
from stepbridge.runtime.codec import validate_input
from stepbridge.runtime.executions import check_execution_id, request_cancel, start_execution
from stepbridge.runtime.ids import new_id
from stepbridge.runtime.limits import check_event_size
from stepbridge.runtime.observability import flush_metrics, logger, register_secret
from stepbridge.runtime.records import Event, ExecutionRecord, iso
from stepbridge.runtime.vocabulary import Status

#: Largest accepted request body: an input is stored in the execution's DynamoDB item (400 KB, with
#: its result), and an event in its 400 KB event-log item; 256 KB leaves room for both (the HTTP
#: API itself would accept 10 MB; docs/LIMITS.md).
MAX_BODY_BYTES = 256 * 1024
#: Longest ``"wait"``: API Gateway's HTTP API integration timeout is 30 s; leave room to answer.
MAX_WAIT_SECONDS = 25.0
#: ``source`` of events posted to ``POST /events`` without one.
DEFAULT_EVENT_SOURCE = provenance.API_SOURCE
_JSON = JSON_TYPE
#: Powertools' resolver for each kind of HTTP event (``shapes.http_kind``).
_RESOLVERS: dict[str, type[ApiGatewayResolver]] = {
    shapes.HTTP_API: APIGatewayHttpResolver,
    shapes.REST_API: APIGatewayRestResolver,
    shapes.FUNCTION_URL: LambdaFunctionUrlResolver,
}


def _error_payload(status: int, code: str, message: str) -> dict[str, object]:
    return {"statusCode": status, "headers": {"Content-Type": _JSON}, "isBase64Encoded": False,
            "body": json.dumps({"error": code, "message": message})}


def _validation_message(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "input"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


#: Library errors -> (status, code); the message is the exception's text.
_KNOWN_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (UnknownWorkflowError, 404, "unknown_workflow"),
    (ExecutionNotFound, 404, "execution_not_found"),
    (ExecutionAlreadyExists, 409, "execution_exists"),
    (CallbackNotFound, 404, "callback_not_found"),
    (CallbackAlreadyCompleted, 409, "callback_already_completed"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (ResultNotSerializable, 400, "bad_request"),
)


class HttpApi:
    """The routes of one :class:`Environment`: one route table, served to each kind of HTTP event by its resolver."""

    def __init__(self, env: Environment) -> None:
        self._env_ref = weakref.ref(env)  # cached per env: do not keep a LocalCloud alive
        self.webhook_paths = tuple(h.path for h in env.app.webhooks)
        #: Built-in route handlers by the SAM event id of :data:`stepbridge.api.routes.ROUTES`.
        handlers: dict[str, Callable[..., Reply]] = {
            "StartExecution": self.start, "DescribeExecution": self.describe,
            "SendEvent": self.publish, "CancelExecution": self.cancel,
            "CompleteCallback": self.complete_callback, "FailCallback": self.fail_callback,
            "HeartbeatCallback": self.heartbeat_callback,
            **taskroutes.routes(self),
        }
        #: ``(method, path pattern, handler)``: the one route table every resolver serves.
        self.table: list[tuple[str, str, Callable[..., Reply]]] = [
            (method, powertools_path(path), _positional(handlers[event_id])) for event_id, method, path in ROUTES
        ]
        self.routes: list[tuple[str, re.Pattern[str]]] = [(m, path_regex(p)) for _, m, p in ROUTES]
        builtin = {p for _, _, p in ROUTES}
        for hook in env.app.webhooks:
            if hook.path in builtin:
                logger().warning("webhook path shadows a built-in route; ignored", extra={"path": hook.path})
                continue
            self.table.append(("POST", re.escape(hook.path), self._webhook_route(hook)))
            self.routes.append(("POST", re.compile("^" + re.escape(hook.path) + "$")))
        self._resolvers: dict[str, ApiGatewayResolver] = {}
        #: The resolver of the request being answered (its ``current_event`` and ``lambda_context``).
        self.resolver: ApiGatewayResolver = self._resolver(shapes.HTTP_API)

    def _resolver(self, kind: str) -> ApiGatewayResolver:
        """The resolver for ``kind`` of HTTP event, built on first use from the route table."""
        resolver = self._resolvers.get(kind)
        if resolver is None:
            resolver = self._resolvers[kind] = _RESOLVERS[kind]()
            for method, path, route in self.table:
                resolver.route(path, method=method)(route)
            resolver.exception_handler(ApiError)(self._api_error)
            resolver.not_found(self._not_found)
            resolver.exception_handler(Exception)(self._unexpected)
        return resolver

    @property
    def env(self) -> Environment:
        """The environment this API serves."""
        env = self._env_ref()
        if env is None:  # pragma: no cover - the cache checks liveness first
            raise RuntimeError("the environment of this HTTP API was garbage-collected")
        return env

    def resolve(self, event: Mapping[str, object], context: Any, kind: str = shapes.HTTP_API) -> dict[str, object]:
        """Route one HTTP event of ``kind`` (see :func:`stepbridge.handlers.shapes.http_kind`)."""
        self.resolver = self._resolver(kind)
        return self.resolver.resolve(dict(event), context)

    # ---- request helpers ------------------------------------------------------------------

    @property
    def _event(self) -> Mapping[str, Any]:
        return self.resolver.current_event.raw_event

    def _body(self, *, allowed: set[str], required: bool = False) -> dict[str, object]:
        raw = raw_body(self._event)
        if not raw.strip():
            if required:
                raise ApiError(400, "bad_request", "the request body must be a JSON object")
            return {}
        try:
            data = httpinput.loads(raw)
        except httpinput.BadJson as exc:
            raise ApiError(400, exc.code, str(exc)) from None
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", f"the request body must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ApiError(400, "bad_request", f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")
        return data

    def _validate(self, wf: WorkflowDef, data: object) -> None:
        if not wf.takes_input:
            return
        try:
            validate_input(data, input_type_of(wf))
        except pydantic.ValidationError as exc:
            raise ApiError(400, "invalid_input",
                           f"the input of workflow '{wf.name}' is invalid: {_validation_message(exc)}") from None

    def _workflow(self, name: str) -> WorkflowDef:
        """The workflow ``name``; 404 naming only ``name`` (the body must not list the app's workflows)."""
        wf = self.env.app.workflows.get(name)
        if wf is None:
            raise ApiError(404, "unknown_workflow", f"no workflow '{name}'")
        return wf

    def _record(self, execution_id: str) -> ExecutionRecord:
        rec = self.env.store.get_execution(execution_id)
        if rec is None:
            raise ApiError(404, "execution_not_found", f"no execution '{execution_id}'")
        return rec

    def _wait(self, execution_id: str, seconds: float) -> None:
        """Return when the execution ended or ``seconds`` passed (``env.waiter`` in LocalCloud)."""
        env = self.env
        if env.waiter is not None:
            with contextlib.suppress(ExecutionStillRunning):  # the reply then says RUNNING
                env.waiter(execution_id, seconds)
            return
        context = self.resolver.lambda_context
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):  # never outlive the invocation
            seconds = max(0.0, min(seconds, remaining() / 1000.0 - 1.0))
        deadline = time.monotonic() + seconds
        delay = 0.1
        while True:
            rec = env.store.get_execution(execution_id)
            left = deadline - time.monotonic()
            if rec is None or rec.terminal or left <= 0:
                return
            time.sleep(min(delay, left))
            delay = min(delay * 1.5, 2.0)

    # ---- routes --------------------------------------------------------------------------------

    def start(self, name: str) -> Reply:
        """``POST /workflows/{name}/executions``."""
        env = self.env
        name = unquote(name)
        body = self._body(allowed={"input", "execution_id", "wait"})
        wf = self._workflow(name)
        exec_id = body.get("execution_id")
        if exec_id is not None:
            if not isinstance(exec_id, str):
                raise ApiError(400, "bad_request", "execution_id must be a string")
            try:
                check_execution_id(exec_id)
            except ValueError as exc:
                raise ApiError(400, "bad_request", str(exc)) from None
        wait = _wait_seconds(body.get("wait"))
        data = body.get("input")
        self._validate(wf, data)
        record, created = start_execution(env.store, env.effects, wf.name, data, execution_id=exec_id)
        logger().info("execution requested over HTTP",
                      extra={"workflow": wf.name, "execution_id": record.execution_id, "new_execution": created})
        if wait is None:
            return _json(202, {"execution_id": record.execution_id, "status": record.status})
        self._wait(record.execution_id, wait)
        return _outcome(self._record(record.execution_id))

    def describe(self, execution_id: str) -> Reply:
        """``GET /executions/{id}``."""
        rec = self._record(unquote(execution_id))
        return _json(200, ExecutionDescription.from_record(rec).to_dict())

    def cancel(self, execution_id: str) -> Reply:
        """``POST /executions/{id}/cancel``."""
        env = self.env
        execution_id = unquote(execution_id)
        body = self._body(allowed={"compensate"})
        compensate = body.get("compensate", False)
        if not isinstance(compensate, bool):
            raise ApiError(400, "bad_request", "compensate must be true or false")
        self._record(execution_id)
        request_cancel(env.store, env.effects, execution_id, compensate=compensate)
        return _json(200, ExecutionDescription.from_record(self._record(execution_id)).to_dict())

    def publish(self) -> Reply:
        """``POST /events``: put an event on the app's bus."""
        env = self.env
        body = self._body(allowed={"type", "detail", "source"}, required=True)
        event_type = body.get("type")
        if not isinstance(event_type, str):
            raise ApiError(400, "bad_request", "type must be a string (the event's detail-type)")
        try:
            check_event_type(event_type, where="POST /events")
        except WorkflowDefinitionError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        detail = body.get("detail")
        detail = {} if detail is None else detail
        if not isinstance(detail, dict):
            raise ApiError(400, "bad_request", f"detail must be a JSON object, got {type(detail).__name__}")
        try:  # an API caller may name its system, never pass for the app's own workflows (runtime/provenance.py)
            source = provenance.check_api_source(body.get("source", DEFAULT_EVENT_SOURCE), env.app.name)
        except ValueError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        # The caller comes from API Gateway's authorizer, never from the body.
        resources = provenance.stamp((), provenance.caller_identity(self._event))
        event_id = new_id()
        event = Event(event_type, detail, source=source, id=event_id, time=iso(env.effects.now()), resources=resources)
        check_event_size(event)  # over the cap (resources count, as EventBridge counts them): PayloadTooLarge, 413
        env.effects.publish([event])
        return _json(202, {"id": event_id})

    def complete_callback(self, token: str) -> Reply:
        """``POST /callbacks/{token}/success`` ``{"result"?}``: complete a callback (single-use)."""
        body = self._body(allowed={"result"})
        env = self.env
        return _json(200, callbacks.complete(env.store, env.effects, unquote(token), body.get("result")))

    def fail_callback(self, token: str) -> Reply:
        """``POST /callbacks/{token}/failure`` ``{"error"?, "message"?}``: the workflow raises ``CallbackFailed``."""
        body = self._body(allowed={"error", "message"})
        env = self.env
        try:
            out = callbacks.fail(env.store, env.effects, unquote(token), body.get("error"), body.get("message"))
        except ValueError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return _json(200, out)

    def heartbeat_callback(self, token: str) -> Reply:
        """``POST /callbacks/{token}/heartbeat``: the callback's heartbeat interval starts again."""
        self._body(allowed=set())
        env = self.env
        return _json(200, callbacks.heartbeat(env.store, env.effects, unquote(token)))

    def _webhook_route(self, hook: WebhookDef) -> Callable[..., Reply]:
        def route(**_params: str) -> Reply:
            return self.webhook(hook)

        return route

    def webhook(self, hook: WebhookDef) -> Reply:
        """``POST <hook.path>``: verify, route by event type, start idempotently by event id."""
        env = self.env
        body = raw_body(self._event)
        secret = self._secret(hook)
        headers = {str(k): str(v) for k, v in (self._event.get("headers") or {}).items()}
        try:
            webhooks.verify_request(hook, headers, body, secret, env.effects.now())
        except webhooks.SignatureError as exc:
            logger().warning("webhook rejected", extra={"path": hook.path, "reason": str(exc)})
            raise ApiError(401, "invalid_signature", str(exc)) from None
        try:
            payload = httpinput.loads(body, what="the webhook payload")
        except httpinput.BadJson as exc:
            raise ApiError(400, exc.code, str(exc)) from None
        if not isinstance(payload, dict):
            raise ApiError(400, "bad_request", "the webhook payload must be a JSON object")
        delivery = webhooks.plan_delivery(hook, payload, body)
        if delivery is None:
            logger().info("webhook event type not routed; ignored",
                          extra={"path": hook.path, "event_type": webhooks.event_type(hook, payload)})
            return _json(200, {"received": True, "ignored": True})
        wf = self._workflow(delivery.workflow)
        self._validate(wf, delivery.input)
        try:
            record, created = start_execution(env.store, env.effects, wf.name, delivery.input,
                                              execution_id=delivery.execution_id)
        except ExecutionAlreadyExists:
            # The event id belongs to another execution (another route or event type with the same id,
            # or a client-started one): use the id scoped by path and type. The same event maps to the
            # same id again, so a redelivery still starts nothing new.
            record, created = start_execution(env.store, env.effects, wf.name, delivery.input,
                                              execution_id=delivery.scoped_id)
        logger().info("webhook accepted", extra={"path": hook.path, "event_type": delivery.event_type,
                                                 "execution_id": record.execution_id, "new_execution": created})
        return _json(200, {"received": True})

    def _secret(self, hook: WebhookDef) -> str:
        """The hook's signing secret. Failures answer 500 naming the webhook path, never the SSM
        parameter (a public caller must not learn where the secret lives); the log names both."""
        if hook.secret is not None:
            value: str | None = hook.secret
        else:
            name = str(hook.secret_param)
            secrets = self.env.secrets or _ssm_secrets()
            try:
                value = secrets.get_secret(name)
            except Exception:
                logger().exception("could not read the webhook secret", extra={"parameter": name, "path": hook.path})
                raise ApiError(500, "secret_unavailable",
                               f"could not read the signing secret of webhook {hook.path}; see the function's logs"
                               ) from None
            if value is None:
                logger().error("webhook secret parameter missing", extra={"parameter": name, "path": hook.path})
                raise ApiError(500, "secret_missing",
                               f"the signing secret of webhook {hook.path} is not configured; see the function's logs")
        if not value or not str(value).strip():
            # An empty secret would make every signature forgeable: refuse the request instead.
            logger().error("webhook secret is empty", extra={"parameter": hook.secret_param, "path": hook.path})
            raise ApiError(500, "secret_missing",
                           f"the signing secret of webhook {hook.path} is empty; see the function's logs")
        register_secret(str(value))  # never in a log line, whatever logs it later
        return str(value)

    # ---- errors ------------------------------------------------------------------------------

    def _api_error(self, exc: ApiError) -> Reply:
        return _json(exc.status, {"error": exc.code, "message": exc.message}, exc.headers)

    def _not_found(self, exc: Exception) -> Reply:
        method = self.resolver.current_event.http_method.upper()
        path = self.resolver.current_event.path
        allowed = sorted({m for m, rx in self.routes if rx.match(path)})
        if allowed:
            return _json(405, {"error": "method_not_allowed", "message": f"{method} is not allowed on {path}; use "
                               f"{', '.join(allowed)}"}, {"Allow": ", ".join(allowed)})
        # The built-in routes only: webhook paths (and workflow names) are not advertised to callers.
        routes = [f"{m} {p}" for _, m, p in ROUTES]
        message = f"no route for {method} {path}; routes: {'; '.join(routes)}"
        return _json(404, {"error": "not_found", "message": message})

    def _unexpected(self, exc: Exception) -> Reply:
        for kind, status, code in _KNOWN_ERRORS:
            if isinstance(exc, kind):
                # UnknownWorkflowError's text lists the known workflows: a caller gets only the name.
                message = str(exc).split("; known:")[0]
                return _json(status, {"error": code, "message": message})
        current = self.resolver.current_event
        logger().exception("unexpected error in the HTTP API", extra={
            "method": current.http_method, "path": current.path,
            "request_id": (self._event.get("requestContext") or {}).get("requestId")})
        return _json(500, {"error": "internal_error", "message": "internal error; see the function's logs"})


def _positional(route: Callable[..., Reply]) -> Callable[..., Reply]:
    """Pass a route's path parameters positionally (API Gateway names them ``{id}``, the methods ``execution_id``)."""

    def call(**params: str) -> Reply:
        return route(*params.values())

    call.__name__ = getattr(route, "__name__", "route")
    return call


def _wait_seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_WAIT_SECONDS:
        raise ApiError(400, "bad_request", f"wait must be a number of seconds > 0 and <= {MAX_WAIT_SECONDS:g} "
                       "(API Gateway's integration timeout is 30 s); poll GET /executions/{id} for longer runs")
    return float(value)


def _outcome(rec: ExecutionRecord) -> Reply:
    if not rec.terminal:
        return _json(202, {"execution_id": rec.execution_id, "status": rec.status})
    payload: dict[str, object] = {"execution_id": rec.execution_id, "status": rec.status}
    if rec.status == Status.SUCCEEDED:
        payload["result"] = rec.result
    if rec.error is not None:
        payload["error"] = rec.error
    return _json(200, payload)


@functools.lru_cache(maxsize=1)
def _ssm_secrets() -> Any:
    from stepbridge.infra.secrets import SsmSecrets

    return SsmSecrets()


_APIS: dict[int, HttpApi] = {}


def api_for(env: Environment) -> HttpApi:
    """The (cached) routes of ``env``; rebuilt when its app's webhooks change."""
    api = _APIS.get(id(env))
    if api is not None and api._env_ref() is env and api.webhook_paths == tuple(h.path for h in env.app.webhooks):
        return api
    for key in [k for k, a in _APIS.items() if a._env_ref() is None]:
        del _APIS[key]
    api = _APIS[id(env)] = HttpApi(env)
    return api


def handle(event: dict[str, object], env: Environment, context: object = None) -> dict[str, Any]:
    """Answer one HTTP request: an HTTP API or function URL (payload 2.0) or REST API proxy (1.0) event.

    Any other event (a test invoke with ``{}``, a wrong trigger) is logged once and answered 400:
    invoked synchronously, nothing retries it.
    """
    kind = shapes.http_kind(event)
    if kind is None:
        what = shapes.describe(event)
        logger().error("the HTTP API function received an event that is not an HTTP request; ignored",
                       extra={"received": what})
        return _error_payload(400, "unsupported_event",
                              f"the stepbridge HTTP API function answers API Gateway (HTTP or REST API) and "
                              f"function URL requests; it received {what}")
    try:
        size = len(raw_body(event))
    except ApiError as exc:
        return _error_payload(exc.status, exc.code, exc.message)
    if size > MAX_BODY_BYTES:
        return _error_payload(413, "payload_too_large",
                              f"the request body is {size} bytes, over the {MAX_BODY_BYTES // 1024} KB limit "
                              "(inputs and events are stored in DynamoDB items of at most 400 KB)")
    response = api_for(env).resolve(event, context, kind)
    flush_metrics()
    return response


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment(), context)
