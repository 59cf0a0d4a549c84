"""IAM equals use (issue 13, "Security"): every action a compiled role grants is one its function's
code makes, and every action the code makes is granted, on the same resources.

The test drives every handler path of an app that uses every feature - workflow kinds (inline and
declared steps, at-most-once, retries, idempotency records, sleeps, waits with timeouts, events,
children, cancel with children, continue-as-new, caching, circuit breaker, bulkhead), triggers
(plain and debounced), a recurring schedule, a state machine, a webhook with its secret in SSM,
every HTTP route (including deferred starts, cancels and callbacks), and a sweep - through LocalCloud, which
runs the real handlers. It records the AWS actions each function's code makes (tests/functional/
iam_usage.py, botocore's ``before-parameter-build`` event on every client) and compares them with
the roles of the compiled template of the same app.

Actions the Lambda service performs with a function's role, not the code, are listed in
``SERVICE_GRANTS`` with their source; they must be granted and are not expected in the recording.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from iam_usage import Call, Recorder, recording

from stepbridge import App, Context, Retry, State, StateMachine, Transition, step_context
from stepbridge.compiler import naming
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.template import compile_app
from stepbridge.idempotency import idempotent
from stepbridge.local import LocalCloud
from stepbridge.patterns import Bulkhead, CircuitBreaker
from stepbridge.runtime import payloads
from stepbridge.runtime.webhooks import hmac_signature

SECRET_PARAM = "/iamuse/hook-secret"
BIG = 100_000  # characters: over the 64 KiB inline limit of a value
# Declared steps report through the work queue (asynchronous invokes: runtime/stepreply.py) as one that outlasts
# its window does; the synchronous invoke needs no other grant (lambda:InvokeFunction, recorded by iam_usage).
app = App("iamuse", step_reply_window=0)
FAILS: dict[str, int] = {}


@idempotent(data_keyword_argument="key")
def send_invoice(*, key: str, fail: bool) -> str:
    if fail:
        raise RuntimeError("mail server down")  # Powertools deletes its record (DeleteItem)
    return f"invoice {key}"


@app.step(timeout=30)
def charge(amount: int) -> dict[str, int]:
    return {"charged": amount}


@app.step(timeout=30, at_most_once=True)
def ship(order: str) -> str:
    return f"shipped {order}"


@app.step(timeout=30, retry=Retry(max_attempts=3, initial_delay=1, jitter=False))
def flaky(n: int) -> int:
    FAILS[str(n)] = FAILS.get(str(n), 0) + 1
    if FAILS[str(n)] == 1:
        raise RuntimeError("first attempt fails")
    return n


@app.step(timeout=30, retry=Retry(max_attempts=2, initial_delay=1, jitter=False))
def invoice(order: str) -> str:
    fail = FAILS.setdefault(f"invoice-{order}", 0) == 0
    FAILS[f"invoice-{order}"] += 1
    return send_invoice(key=step_context().idempotency_key, fail=fail)


breaker = CircuitBreaker("payments", threshold=2, cooldown=60)
bulkhead = Bulkhead("warehouse", max_concurrent=2)


@app.workflow("sub")
async def sub(ctx: Context, data: Any) -> Any:
    return {"sub": data}


@app.workflow("looper")
async def looper(ctx: Context, n: int) -> int:
    if n < 2:
        await ctx.continue_as_new(n + 1)
    return n


@app.workflow("cached", cache_ttl=3600)
async def cached(ctx: Context, n: int) -> int:
    return await ctx.step("square", lambda: n * n, cache_ttl=3600)


@app.workflow("order")
async def order(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    await ctx.step("reserve", lambda: "reserved")
    charged = await ctx.step("charge", charge, 5)
    shipped = await ctx.step("ship", ship, data["id"])
    n = await ctx.step("flaky", flaky, len(data["id"]))
    inv = await ctx.step("invoice", invoice, data["id"])
    await ctx.sleep(timedelta(minutes=1))
    approval = await ctx.wait_for("Approval.decided", match={"id": data["id"]}, timeout=timedelta(hours=1),
                                  default=None)
    late = await ctx.wait_for("Never.sent", timeout=timedelta(minutes=5), default="timed out")
    child = await ctx.child(sub, {"from": data["id"]})
    await ctx.progress(1, 2, "half")
    await ctx.send("Order.done", {"id": data["id"]})
    guarded = await breaker.call(ctx, "guarded", lambda: "ok")
    packed = await bulkhead.call(ctx, "pack", lambda: "packed")
    return {"charged": charged, "shipped": shipped, "n": n, "inv": inv, "approval": approval, "late": late,
            "child": child, "guarded": guarded, "packed": packed}


@app.workflow("parent-nap")
async def parent_nap(ctx: Context, data: Any) -> None:
    await ctx.start_child("nap", {})
    await ctx.sleep(timedelta(days=1))


@app.workflow("nap")
async def nap(ctx: Context, data: Any) -> str:
    await ctx.sleep(timedelta(days=1))
    return "rested"


@app.workflow("ask")
async def ask(ctx: Context, data: Any) -> str:
    out = await ctx.task("approve", assignees=["ann@acme.example"], remind_every=timedelta(minutes=30))
    return str(out.decision)


@app.workflow("tick")
async def tick(ctx: Context, data: dict[str, Any]) -> str:
    return str(data["scheduled_time"])


@app.step(timeout=30)
def big_report(n: int) -> str:
    return "r" * n


@app.step(timeout=30)
def big_len(text: str) -> int:
    return len(text)


@app.workflow("bigdata")
async def bigdata(ctx: Context, n: int) -> int:
    """Large values (claim checks): an inline and a declared step's result, a declared step's argument, and an
    event detail a waiter matches on - each over the inline limit, so each goes through the payload bucket."""
    inline = await ctx.step("big-inline", lambda: "i" * n)
    declared = await ctx.step("big-declared", big_report, n)
    size = await ctx.step("big-len", big_len, inline)
    ev = await ctx.wait_for("Big.event", match={"id": "b1"}, timeout=timedelta(hours=1))
    return int(size) + len(declared) + len(ev["body"])


CALLBACK_TOKENS: list[str] = []


def hand_out(token: str) -> str:
    CALLBACK_TOKENS.append(token)
    return "handed out"


@app.workflow("callme")
async def callme(ctx: Context, n: int) -> Any:
    """Callbacks: the token item (orchestrator), completion, failure and heartbeat through the API."""
    try:
        return await ctx.wait_for_callback(f"cb-{n}", hand_out, timeout=timedelta(hours=1),
                                           heartbeat=timedelta(minutes=10))
    except Exception as exc:
        return {"failed": type(exc).__name__}


app.on("Thing.created", sub)
app.on("Entity.updated", sub, debounce=timedelta(seconds=5), key="detail.id")
app.every("hourly", at=":00", workflow=tick)
app.webhook("/hooks/partner", provider="hmac", secret_param=SECRET_PARAM, workflow=sub)

door = StateMachine("door", initial="closed", states={
    "closed": State(on={"open": Transition("opened")}),
    "opened": State(on={"close": Transition("closed")}),
})
app.state_machine(door, events={"Door.opened": "open", "Door.closed": "close"}, key="detail.doorId")

#: Granted for the Lambda service, which acts with the function's role; never called by the code.
SERVICE_GRANTS: dict[str, set[tuple[str, str]]] = {
    # The runtime writes the function's logs; X-Ray (Tracing: Active) sends segments.
    "*": {("logs:CreateLogStream", "LogGroup"), ("logs:PutLogEvents", "LogGroup"),
          ("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")},
    # The SQS event source mapping polls with the function's role: "Lambda execution role permissions
    # for SQS" = ReceiveMessage, DeleteMessage, GetQueueAttributes (Lambda developer guide, "Using
    # Lambda with Amazon SQS").
    naming.ORCHESTRATOR: {("sqs:ReceiveMessage", "WorkQueue"), ("sqs:DeleteMessage", "WorkQueue"),
                          ("sqs:GetQueueAttributes", "WorkQueue")},
    # Likewise the router's event source mapping on the router queue (the rules deliver there); SQS
    # itself moves a failed event to RouterDeadLetterQueue, so the router holds no grant on that queue.
    naming.ROUTER: {("sqs:ReceiveMessage", "RouterQueue"), ("sqs:DeleteMessage", "RouterQueue"),
                    ("sqs:GetQueueAttributes", "RouterQueue")},
}
#: Granted because a recorded action needs it: CreateSchedule passes the Scheduler role.
IMPLIED = {"scheduler:CreateSchedule": ("iam:PassRole", "SchedulerRole")}


def resource_key(resource: Any) -> str:
    """The resource keys of iam_usage.Recorder for a policy resource of the template."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical = resource["Fn::GetAtt"][0]
        return "LogGroup" if logical.endswith("LogGroup") else logical
    text = json.dumps(resource)
    if "index/" in text:
        index = text.split("index/")[1].split('"')[0]
        return f"{naming.TABLE}/index/{index}"
    if naming.TIMER_GROUP in text:
        return f"{naming.TIMER_GROUP}/*"
    if naming.PAYLOAD_BUCKET in text:
        return f"{naming.PAYLOAD_BUCKET}/" + text.split(".Arn}/")[1].split('"')[0]
    if ":parameter/" in text:
        return "ssm:parameter/" + text.split(":parameter/")[1].split('"')[0]
    return text


def grants(template: dict[str, Any], role: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(action, resource key) -> the conditions of the statements granting it."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        for stmt in policy["PolicyDocument"]["Statement"]:
            actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
            resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
            for action in actions:
                for res in resources:
                    out.setdefault((action, resource_key(res)), []).append(stmt.get("Condition") or {})
    return out


def leading_keys_allow(conditions: list[dict[str, Any]], pk: str | None) -> bool:
    """Whether one of the statements allows a call on partition key ``pk``."""
    import fnmatch

    for cond in conditions:
        keys = cond.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        if keys is None:
            return True
        if pk is not None and any(fnmatch.fnmatchcase(pk, k) for k in keys):
            return True
    return False


def drive(cloud: LocalCloud) -> None:
    """Every handler path of the app."""
    client = cloud.client()
    cloud.set_secret(SECRET_PARAM, "iamuse-hmac-key-7f3a")
    # workflows through the client
    h = client.start("order", {"id": "o1"})
    cloud.advance(timedelta(minutes=2))
    client.send_event("Approval.decided", {"id": "o1", "ok": True})
    cloud.advance(timedelta(minutes=10))
    assert h.result()["child"] == {"sub": {"from": "o1"}}, client.describe(h.execution_id)
    assert "continued_as_new" in client.start("looper", 0).result()
    assert client.start("cached", 3).result() == client.start("cached", 3).result() == 9
    # cancel of a parent with a running child
    p = client.start("parent-nap", None)
    assert client.cancel(p.execution_id).status in ("CANCELLED", "RUNNING")
    # triggers, debounce, state machine
    client.send_event("Thing.created", {"k": 1})
    client.send_event("Entity.updated", {"id": "e1", "v": 1})
    client.send_event("Entity.updated", {"id": "e1", "v": 2})
    client.send_event("Door.opened", {"doorId": "d1"})
    client.send_event("Door.opened", {"doorId": "d1"})  # rejected transition
    cloud.advance(timedelta(minutes=70))  # debounce fires, the hourly schedule fires
    # the HTTP API: every route
    assert cloud.http("POST", "/workflows/sub/executions", body={"input": 1, "wait": 5}).status_code == 200
    assert cloud.http("GET", f"/executions/{h.execution_id}").status_code == 200
    napper = cloud.http("POST", "/workflows/nap/executions", body={"input": {}}).json()["execution_id"]
    assert cloud.http("POST", f"/executions/{napper}/cancel", body={}).status_code == 200
    assert cloud.http("POST", "/events", body={"type": "Thing.created", "detail": {"k": 2}}).status_code == 202
    later = client.start("nap", {"d": 1}, execution_id="deferred-1", delay=timedelta(hours=1))
    again = cloud.http("POST", "/workflows/nap/executions", body={"input": {"d": 1}, "execution_id": "deferred-1"})
    assert again.status_code == 202  # re-arms the start timer
    assert cloud.http("POST", f"/executions/{later.execution_id}/cancel").status_code == 200
    body = json.dumps({"id": "wh-1", "x": 1}).encode()
    signed = {"X-Signature": hmac_signature("iamuse-hmac-key-7f3a", body)}
    hooked = cloud.http("POST", "/hooks/partner", body=body, headers=signed)
    assert hooked.status_code == 200
    # callbacks: every route (heartbeat, success with a large result, failure)
    ok, no = client.start("callme", 1), client.start("callme", 2)
    assert cloud.http("POST", f"/callbacks/{CALLBACK_TOKENS[0]}/heartbeat").status_code == 200
    assert cloud.http("POST", f"/callbacks/{CALLBACK_TOKENS[0]}/success", body={"result": "c" * BIG}).status_code == 200
    assert cloud.http("POST", f"/callbacks/{CALLBACK_TOKENS[1]}/failure", body={"error": "E"}).status_code == 200
    assert ok.result() == "c" * BIG and no.result() == {"failed": "CallbackFailed"}
    # large values: every function that moves one reads or writes the payload bucket
    big = client.start("bigdata", BIG)
    client.send_event("Big.event", {"id": "b1", "body": "e" * (300 * 1024)})  # the router reads it to match
    assert big.result() == 2 * BIG + 300 * 1024
    started = cloud.http("POST", "/workflows/sub/executions", body={"input": "a" * BIG, "wait": 5})
    assert started.json()["result"] == {"sub": "a" * BIG} or payloads.is_ref(started.json()["result"])
    # the task inbox routes (a reminder tick first: the orchestrator updates the task)
    asked = client.start("ask", {})
    cloud.advance(timedelta(minutes=31))
    ann = "jwt:ann@acme.example"
    [task] = cloud.http("GET", "/tasks", caller=ann).json()["tasks"]
    path = f"/tasks/{task['task_id']}"
    assert cloud.http("GET", path, caller=ann).json()["audit"][-1]["action"] == "reminded"
    for action in ("claim", "release", "claim"):
        assert cloud.http("POST", f"{path}/{action}", caller=ann).status_code == 200
    assert cloud.http("POST", f"{path}/reassign", caller=ann, body={"to": ["ann@acme.example"]}).status_code == 200
    assert cloud.http("POST", f"{path}/complete", caller=ann, body={"decision": "approve"}).status_code == 200
    assert asked.result() == "approve"
    # the sweeper: a sleeping execution whose timer was lost
    lost = client.start("nap", {"lost": True})
    for name in [t.name for t in list(cloud.timers._heap) if t.message and t.message.execution_id == lost.execution_id]:
        cloud.timers.cancel(name)
    cloud.clock.set(cloud.now() + timedelta(days=1, minutes=30))
    assert lost.execution_id in cloud.sweep()
    assert client.describe(lost.execution_id).status == "SUCCEEDED"


@pytest.fixture(scope="module")
def observed() -> tuple[dict[str, set[Call]], dict[str, Any], dict[str, str]]:
    compiled = compile_app(app)
    template = to_json(compiled.template)
    bases = {plan.step.name: plan.base_id for plan in compiled.model.steps}
    recorder = Recorder()
    cache, payloads._CACHE_BYTES = payloads._CACHE_BYTES, 0  # one process plays every function: no shared copy
    try:
        with recording(recorder, lambda: bases), LocalCloud(app) as cloud:
            config = cloud.resources.config
            recorder.names.update({config.table: naming.TABLE, config.queue_url: naming.QUEUE,
                                   config.schedule_group: naming.TIMER_GROUP, config.bus: naming.BUS,
                                   config.payload_bucket: naming.PAYLOAD_BUCKET})
            drive(cloud)
    finally:
        payloads._CACHE_BYTES = cache
    return recorder.by_function(), template, bases


def roles(template: dict[str, Any], bases: dict[str, str]) -> list[str]:
    return [naming.ORCHESTRATOR, naming.ROUTER, naming.API, naming.SWEEPER, *sorted(bases.values())]


def test_every_function_was_exercised(observed):
    calls, template, bases = observed
    assert set(roles(template, bases)) <= set(calls), sorted(set(roles(template, bases)) - set(calls))


def role_of(template: dict[str, Any], function_base: str) -> str:
    """The logical id of the role a function runs with (declared steps share ``DeclaredStepsRole``)."""
    return str(template["Resources"][f"{function_base}Function"]["Properties"]["Role"]["Fn::GetAtt"][0])


@pytest.mark.parametrize("function", [naming.ORCHESTRATOR, naming.ROUTER, naming.API, naming.SWEEPER, "steps"])
def test_role_grants_exactly_what_the_code_uses(observed, function):
    calls, template, bases = observed
    if function == "steps":
        # Declared steps without grants of their own share one role: it must equal the union of their use
        # (``invoice`` uses the idempotency records, ``ship`` the at-most-once marker).
        by_role: dict[str, list[str]] = {}
        for base in bases.values():
            by_role.setdefault(role_of(template, base), []).append(base)
    else:
        by_role = {role_of(template, function): [function]}
    assert by_role
    for role, functions in by_role.items():
        granted = grants(template, role)
        group = [c for f in functions for c in calls.get(f, set())]
        used = {(c.action, c.resource) for c in group}
        for action, _resource in list(used):
            if action in IMPLIED:
                used.add(IMPLIED[action])
        service = SERVICE_GRANTS["*"] | SERVICE_GRANTS.get(functions[0], set())
        not_granted = sorted(u for u in used if u not in granted)
        unused = sorted(g for g in granted if g not in used and g not in service)
        missing_service = sorted(s for s in service if s not in granted)
        assert not not_granted, f"{role} lacks what its code calls: {not_granted}"
        assert not unused, f"{role} grants what its code never calls: {unused}"
        assert not missing_service, f"{role} lacks what the Lambda service needs: {missing_service}"
        for call in group:
            if call.action.startswith("dynamodb:") and call.resource == naming.TABLE:
                conditions = granted[(call.action, call.resource)]
                assert leading_keys_allow(conditions, call.pk), f"{role}: {call.action} on {call.pk} denied"


def test_step_roles_may_only_touch_execution_and_idempotency_items(observed):
    _, template, bases = observed
    roles = {role_of(template, base) for base in bases.values()}
    assert roles == {"DeclaredStepsRole"}  # no step of this app declares grants of its own
    for role in roles:
        for (action, resource), conditions in grants(template, role).items():
            if action.startswith("dynamodb:"):
                assert resource == naming.TABLE
                for cond in conditions:
                    keys = cond["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                    assert set(keys) <= {"EXEC#*", "IDEMPOTENCY#*"}, (role, action, keys)
