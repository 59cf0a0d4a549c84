"""``stepbridge dev``'s HTTP endpoints, driven with urllib against a real server on an ephemeral port.

No browser: these run everywhere. The app is small and local to this module (an order that runs a
flaky step, sleeps two hours and waits for a payment), on LocalCloud's memory backend; the clock
moves only when a test moves it. tests/functional/test_dev_console_browser.py drives the page itself.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from stepbridge import App, Context, Retry
from stepbridge.devconsole import ConsoleServer, DevSession, serve
from stepbridge.devconsole.forms import example_of, form_fields, schema_of
from stepbridge.operator import render_timeline_html

app = App("devtest")
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday
calls = {"flaky": 0}


class Order(BaseModel):
    id: str
    amount: int = Field(ge=0)
    express: bool = False


def flaky(order_id: str) -> str:
    calls["flaky"] += 1
    if calls["flaky"] == 1:
        raise ConnectionError("warehouse busy")
    return f"reserved {order_id}"


@app.workflow("order")
async def order_workflow(ctx: Context, order: Order) -> dict[str, Any]:
    await ctx.step("reserve", flaky, order.id, retry=Retry(max_attempts=3, initial_delay=1.0, jitter=False))
    await ctx.sleep(timedelta(hours=2))
    paid = await ctx.wait_for("Order.paid", match={"orderId": order.id}, timeout=timedelta(days=3))
    return {"order": order.id, "paid": paid["amount"]}


@app.workflow("hello")
async def hello(ctx: Context, name: str) -> str:
    return await ctx.step("greet", lambda: f"hello {name}")


@app.workflow("staged")
async def staged(ctx: Context, stage: str) -> None:
    await ctx.set_status({"stage": stage, "reviewers": 2, "detail": {"nested": True}})
    await ctx.sleep(timedelta(days=1))


@app.workflow("boom")
async def boom(ctx: Context, reason: str) -> None:
    raise ValueError(reason)


app.on("Order.created", order_workflow)

#: ``ctx.task`` (human tasks, issue 15) - the real inbox tests below need it.
HAS_TASKS = callable(getattr(Context, "task", None))
needs_tasks = pytest.mark.skipif(not HAS_TASKS, reason="this stepbridge has no human tasks (ctx.task)")


class ExpenseForm(BaseModel):
    """What the approver fills in besides the decision."""

    approved_amount: float | None = Field(default=None, ge=0)
    note: str = ""


if HAS_TASKS:
    from stepbridge import BusinessDays, Calendar

    OFFICE = Calendar("UTC", workdays="mon-fri", hours=("09:00", "17:00"))

    @app.workflow("approval")
    async def approval(ctx: Context, amount: int) -> dict[str, Any]:
        outcome = await ctx.task(  # type: ignore[attr-defined]
            "manager-approval", assignees=["maria@acme.example"], form=ExpenseForm, decisions=["approve", "reject"],
            title=f"Approve {amount}", data={"amount": amount}, calendar=OFFICE,
            escalate_after=BusinessDays(2), escalate_to=["victor@acme.example"],
        )
        return {"decision": outcome.decision, "by": outcome.by, "note": outcome.data.note}


@pytest.fixture
def session() -> Iterator[DevSession]:
    calls["flaky"] = 0
    with DevSession(app, start=START) as s:
        yield s


@pytest.fixture
def server(session: DevSession) -> Iterator[ConsoleServer]:
    srv = serve(session)
    yield srv
    srv.stop()


class Api:
    """urllib against the console, with the page's token on POSTs unless told otherwise."""

    def __init__(self, server: ConsoleServer) -> None:
        self.server = server
        self.base = server.url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             token: bool = True, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if method == "POST":
            request.add_header("Content-Type", "application/json")
            if token:
                request.add_header("X-Stepbridge-Token", self.server.token)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                status = response.status
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            text, status, kind = exc.read().decode(), exc.code, exc.headers.get("Content-Type", "")
        return status, json.loads(text) if kind.startswith("application/json") else text

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, body
        return body

    def post(self, path: str, body: Any = None) -> Any:
        status, result = self.call("POST", path, body if body is not None else {})
        assert status == 200, result
        return result


@pytest.fixture
def api(server: ConsoleServer) -> Api:
    return Api(server)


def start_order(api: Api, order_id: str = "o-1", amount: int = 40) -> str:
    """Start an order and let its first "reserve" attempt's 1-second retry timer fire (clock: 08:00:01)."""
    started = api.post("/api/executions", {"workflow": "order", "input": {"id": order_id, "amount": amount},
                                           "execution_id": f"order-{order_id}"})
    assert api.post("/api/clock/next")["now"] == "2026-01-05T08:00:01.000000+00:00"
    return str(started["execution_id"])


# ---- page and overview --------------------------------------------------------------------------------


def test_the_page_carries_the_post_token_and_loads_only_its_own_assets(api: Api, server: ConsoleServer) -> None:
    status, page = api.call("GET", "/")
    assert status == 200
    assert f'<meta name="stepbridge-token" content="{server.token}">' in page
    assert "<title>devtest - stepbridge dev</title>" in page
    assert "http://" not in page and "https://" not in page  # no CDN, no external asset
    for asset in ("/static/console.js", "/static/console.css", "/static/report.css"):
        status, text = api.call("GET", asset)
        assert status == 200 and len(text) > 500, asset
    status, _ = api.call("GET", "/static/../server.py")
    assert status == 404


def test_the_overview_offers_each_workflow_with_an_input_skeleton_and_the_trigger_event_types(api: Api) -> None:
    overview = api.get("/api/overview")
    assert overview["app"] == "devtest" and overview["backend"] == "memory"
    assert overview["now"] == "2026-01-05T08:00:00.000000+00:00"
    workflows = {w["name"]: w for w in overview["workflows"]}
    assert workflows["order"]["example"] == {"id": "", "amount": 0, "express": False}
    assert workflows["hello"]["example"] == ""
    assert overview["event_types"] == ["Order.created"]
    assert "RUNNING" in overview["statuses"]


# ---- executions --------------------------------------------------------------------------------------------


def test_started_executions_are_listed_and_filtered_by_workflow_status_and_tag(api: Api) -> None:
    order_id = start_order(api)  # created at 08:00:00
    api.post("/api/executions", {"workflow": "hello", "input": "ada", "execution_id": "hello-1"})  # at 08:00:01
    listed = api.get("/api/executions")["executions"]
    assert [e["execution_id"] for e in listed] == ["hello-1", order_id]  # newest first
    assert {e["execution_id"]: e["status"] for e in listed} == {"hello-1": "SUCCEEDED", order_id: "RUNNING"}

    assert [e["execution_id"] for e in api.get("/api/executions?workflow=order")["executions"]] == [order_id]
    assert [e["execution_id"] for e in api.get("/api/executions?status=succeeded")["executions"]] == ["hello-1"]
    tagged = api.get("/api/executions?tag=retried")
    assert [e["execution_id"] for e in tagged["executions"]] == [order_id]  # "reserve" needed two attempts
    assert "retried" in tagged["tags"] and "sleeping" in tagged["tags"]
    assert api.get("/api/executions?tag=child")["executions"] == []
    api.post("/api/executions", {"workflow": "boom", "input": "no", "execution_id": "boom-1"})
    failed = api.get("/api/executions?tag=error:ValueError")["executions"]
    assert [(e["execution_id"], e["status"]) for e in failed] == [("boom-1", "FAILED")]
    api.post("/api/executions", {"workflow": "staged", "input": "review", "execution_id": "staged-1"})
    staged_rows = api.get("/api/executions?tag=stage=review")["executions"]  # ctx.set_status's scalars are tags
    assert [(e["execution_id"], e["tags"]) for e in staged_rows] == [("staged-1", ["reviewers=2", "sleeping",
                                                                                  "stage=review"])]


def test_an_execution_shows_the_same_timeline_the_html_report_draws(api: Api, session: DevSession) -> None:
    execution_id = start_order(api)
    shown = api.get(f"/api/executions/{execution_id}")
    description = session.client.describe(execution_id)
    history = session.client.history(execution_id)
    assert shown["timeline_html"] == render_timeline_html(description, history, now="2026-01-05T08:00:01.000000+00:00")
    assert 'data-step="reserve"' in shown["timeline_html"] and 'data-status="sleeping"' in shown["timeline_html"]
    assert shown["execution"]["status"] == "RUNNING" and shown["execution"]["input"]["id"] == "o-1"
    assert any("reserve" in line for line in shown["history"])
    assert shown["tags"] == ["retried", "sleeping"]


def test_the_clock_moves_by_durations_business_units_and_to_the_next_timer(api: Api) -> None:
    execution_id = start_order(api)
    jumped = api.post("/api/clock/next")  # the retry of "reserve" has run; next is the end of the 2-hour sleep
    assert jumped["now"] == "2026-01-05T10:00:01.000000+00:00" and jumped["deliveries"] > 0
    assert api.get(f"/api/executions/{execution_id}")["tags"] == ["retried", "waiting"]

    moved = api.post("/api/clock/advance", {"duration": "90m"})
    assert (moved["from"], moved["now"]) == ("2026-01-05T10:00:01.000000+00:00", "2026-01-05T11:30:01.000000+00:00")
    # 2 business days on the default calendar (Mon-Fri 09:00-17:00 UTC) from Monday 11:30: Wednesday 11:30
    assert api.post("/api/clock/advance", {"duration": "2bd"})["now"] == "2026-01-07T11:30:01.000000+00:00"
    # 6 business hours from Wednesday 11:30:01: 5 h 29 min 59 s that day, the rest from Thursday 09:00
    assert api.post("/api/clock/advance", {"duration": "6bh"})["now"] == "2026-01-08T09:30:01.000000+00:00"
    assert api.get("/api/clock")["next_timer"] == "2026-01-08T10:00:01.000000+00:00"  # the wait's 3-day timeout


def test_a_sent_event_wakes_the_waiting_execution_which_succeeds(api: Api) -> None:
    execution_id = start_order(api)
    api.post("/api/clock/advance", {"duration": "3h"})
    sent = api.post("/api/events", {"type": "Order.paid", "detail": {"orderId": "o-1", "amount": 40}})
    assert sent["event_id"]
    shown = api.get(f"/api/executions/{execution_id}")
    assert shown["execution"]["status"] == "SUCCEEDED"
    assert shown["execution"]["result"] == {"order": "o-1", "paid": 40}
    assert 'data-status="received"' in shown["timeline_html"]


def test_an_event_that_matches_a_trigger_starts_its_workflow(api: Api) -> None:
    api.post("/api/events", {"type": "Order.created", "detail": {"id": "o-9", "amount": 5}})
    listed = api.get("/api/executions?workflow=order")["executions"]
    assert len(listed) == 1 and listed[0]["status"] == "RUNNING"


def test_cancel_from_the_console_ends_the_execution_cancelled(api: Api) -> None:
    execution_id = start_order(api)
    assert api.post(f"/api/executions/{execution_id}/cancel")["status"] == "CANCELLED"
    assert api.get(f"/api/executions/{execution_id}")["execution"]["status"] == "CANCELLED"


# ---- bad input: one JSON line, the right status, nothing changed ---------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("POST", "/api/executions", {"workflow": "order", "input": {"id": "o-1", "amount": -5}}, 400,
         "amount: Input should be greater than or equal to 0"),
        ("POST", "/api/executions", {"workflow": "nope", "input": {}}, 404, "unknown workflow 'nope'"),
        ("POST", "/api/executions", {"input": {}}, 400, "'workflow' is required"),
        ("GET", "/api/executions/missing", None, 404, "no execution 'missing'"),
        ("GET", "/api/executions?status=WAITING", None, 400, "unknown status 'WAITING'"),
        ("GET", "/api/executions?limit=many", None, 400, "limit must be a whole number"),
        ("POST", "/api/events", {"type": "Order.paid", "detail": [1]}, 400, "must be a JSON object"),
        ("POST", "/api/clock/advance", {"duration": "soon"}, 400, "'soon' is not a duration"),
        ("POST", "/api/clock/advance", {"duration": "1.5bd"}, 400, "business days are whole days"),
        ("POST", "/api/clock/next", {}, 409, "no timer is set"),
        ("POST", "/api/clock/speed", {"speed": "fast"}, 400, "'speed' must be a number"),
        ("GET", "/api/nothing", None, 404, "no console route /api/nothing"),
        ("GET", "/api/clock/next", None, 405, "GET is not allowed"),
    ],
)
def test_bad_requests_get_one_json_line_with_the_right_status(
    api: Api, method: str, path: str, body: Any, status: int, needle: str
) -> None:
    got, answer = api.call(method, path, body)
    assert got == status, answer
    assert needle in answer["message"] and "\n" not in answer["message"] and answer["error"]
    assert api.get("/api/executions")["executions"] == []
    assert api.get("/api/clock")["now"] == "2026-01-05T08:00:00.000000+00:00"


def test_a_body_that_is_not_json_or_too_large_is_refused(api: Api) -> None:
    got, answer = api.call("POST", "/api/events", raw=b"{not json")
    assert got == 400 and "not JSON" in answer["message"]
    got, answer = api.call("POST", "/api/events", raw=b" " * (1024 * 1024 + 1))
    assert got == 413 and "at most 1048576" in answer["message"]


# ---- safety -----------------------------------------------------------------------------------------------


def test_a_post_without_the_token_from_another_site_or_not_json_changes_nothing(api: Api) -> None:
    start = {"workflow": "hello", "input": "x"}
    got, answer = api.call("POST", "/api/executions", start, token=False)
    assert got == 403 and "X-Stepbridge-Token" in answer["message"]
    got, answer = api.call("POST", "/api/executions", start, headers={"X-Stepbridge-Token": "guess"}, token=False)
    assert got == 403
    got, answer = api.call("POST", "/api/executions", start, headers={"Origin": "https://evil.example"})
    assert got == 403 and "cross-site" in answer["message"]
    got, answer = api.call("POST", "/api/clock/advance", {"duration": "1d"}, headers={"Content-Type": "text/plain"})
    assert got in (403, 400)
    assert api.get("/api/executions")["executions"] == []
    assert api.get("/api/clock")["now"] == "2026-01-05T08:00:00.000000+00:00"


def test_a_request_naming_another_host_is_refused_against_dns_rebinding(server: ConsoleServer) -> None:
    host, port = server.server_address[0], server.server_address[1]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    connection.request("GET", "/api/overview", headers={"Host": f"attacker.example:{port}"})
    response = connection.getresponse()
    assert response.status == 421 and b"Host header refused" in response.read()
    connection.close()
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    connection.request("GET", "/api/overview", headers={"Host": f"localhost:{port}"})
    assert connection.getresponse().status == 200
    connection.close()


def test_answers_forbid_framing_and_foreign_scripts(api: Api) -> None:
    request = urllib.request.Request(api.base + "/")
    with urllib.request.urlopen(request, timeout=10) as response:
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
    assert api.server.server_address[0] == "127.0.0.1"  # the default bind is local only


# ---- live updates -------------------------------------------------------------------------------------------


def _next_event(response: http.client.HTTPResponse) -> dict[str, Any]:
    data = None
    while True:
        line = response.readline().decode()
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "\n" and data is not None:
            return data
        elif line == "":
            raise AssertionError("the stream ended")


def test_the_live_stream_sends_the_state_now_and_again_after_each_change(api: Api, server: ConsoleServer) -> None:
    host, port = server.server_address[0], server.server_address[1]
    connection = http.client.HTTPConnection(str(host), port, timeout=20)
    connection.request("GET", "/api/stream")
    response = connection.getresponse()
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    first = _next_event(response)
    assert first["now"] == "2026-01-05T08:00:00.000000+00:00"
    api.post("/api/executions", {"workflow": "hello", "input": "ada"})
    second = _next_event(response)
    assert second["version"] > first["version"]
    api.post("/api/clock/advance", {"duration": "1h"})
    third = _next_event(response)
    assert third["now"] == "2026-01-05T09:00:00.000000+00:00" and third["version"] > second["version"]
    connection.close()


def test_a_running_clock_moves_by_speed_times_the_interval_and_delivers(session: DevSession) -> None:
    session.client.start("order", {"id": "o-2", "amount": 1})
    session.speed = 3600.0  # an hour a second: one half-second tick moves the clock 30 minutes
    version = session.changes.version
    session.tick(0.5)
    assert session.cloud.now() == START + timedelta(minutes=30)
    assert session.changes.version > version  # the retry backoff fired: something to redraw
    session.speed = 0.0
    session.tick(0.5)
    assert session.cloud.now() == START + timedelta(minutes=30)


# ---- the inbox, through a stand-in of the client's task API -----------------------------------------------


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"


class ApprovalForm(BaseModel):
    approved_amount: float = Field(ge=0, description="what you approve")
    category: Literal["travel", "meals", "other"] = "travel"
    receipt_checked: bool = False
    paid_on: date | None = None
    comment: str | None = None
    split: list[int] = []


class FakeTasks:
    """The client's task methods (DESIGN.md; their shapes as in stepbridge.client), over one task."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {
            "task_id": "tk-1", "name": "manager-approval", "title": "Approve expense exp-7", "execution_id": "e-1",
            "workflow": "expense", "assignees": ["maria@acme.example"], "status": "open", "data": {"amount": 2500},
            "decisions": None, "form_schema": ApprovalForm.model_json_schema(), "form": "tests:ApprovalForm",
        }
        self.calls: list[tuple[str, Any]] = []

    def tasks(self, assignee: str, status: str | None = "open", *, limit: int = 100) -> list[dict[str, Any]]:
        self.calls.append(("tasks", (assignee, status)))
        mine = assignee in self.record["assignees"]
        summary = {k: self.record[k] for k in ("task_id", "status", "name", "title", "execution_id")}
        return [summary] if mine and status in (None, self.record["status"]) else []

    def task(self, task_id: str) -> dict[str, Any]:
        if task_id != self.record["task_id"]:
            raise type("TaskNotFound", (Exception,), {"status": 404})(f"no task {task_id!r}")
        return self.record

    def complete_task(self, task_id: str, *, by: str, decision: str, data: Any = None, comment: str = "") -> Any:
        self.calls.append(("complete_task", {"by": by, "decision": decision, "data": data, "comment": comment}))
        if by not in self.record["assignees"]:
            raise type("TaskForbidden", (Exception,), {"status": 403})(f"{by} is not an assignee of task {task_id}")
        if self.record["status"] == "completed":
            raise type("TaskConflict", (Exception,), {"status": 409})(f"task {task_id} is already completed")
        try:
            ApprovalForm.model_validate(data)
        except ValueError as exc:
            raise type("TaskInvalid", (Exception,), {"status": 400})(str(exc)) from None
        self.record = {**self.record, "status": "completed", "outcome": {"decision": decision, "by": by}}
        return self.record


def test_the_inbox_draws_the_form_from_the_pydantic_model_and_completes_as_the_chosen_person(
    api: Api, session: DevSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTasks()
    for name in ("tasks", "task", "complete_task"):
        monkeypatch.setattr(session.client, name, getattr(fake, name), raising=False)
    assert api.get("/api/overview")["tasks"] is True
    inbox = api.get("/api/tasks?assignee=maria@acme.example&status=open")["tasks"]
    assert [t["task_id"] for t in inbox] == ["tk-1"]
    assert fake.calls[-1] == ("tasks", ("maria@acme.example", "open"))
    assert inbox[0]["data"] == {"amount": 2500} and inbox[0]["decisions"] == ["approve", "reject"]
    assert api.get("/api/tasks?assignee=victor@acme.example")["tasks"] == []
    fields = {f["name"]: f for f in inbox[0]["fields"]}
    assert fields["approved_amount"]["kind"] == "number" and fields["approved_amount"]["required"] is True
    assert fields["category"]["options"] == ["travel", "meals", "other"]
    assert fields["receipt_checked"]["kind"] == "checkbox" and fields["paid_on"]["kind"] == "date"
    assert fields["comment"]["kind"] == "textarea" and fields["split"]["kind"] == "json"

    path = "/api/tasks/tk-1/complete"
    got, answer = api.call("POST", path, {"by": "mallory@acme.example", "decision": "approve",
                                          "data": {"approved_amount": 10}})
    assert got == 403 and "not an assignee" in answer["message"]
    got, answer = api.call("POST", path, {"by": "maria@acme.example", "decision": "approve",
                                          "data": {"approved_amount": -1}})
    assert got == 400 and "approved_amount" in answer["message"]
    done = api.post(path, {"by": "maria@acme.example", "decision": "approve", "comment": "ok",
                           "data": {"approved_amount": 2500, "category": "travel"}})
    assert done["task"]["status"] == "completed"
    assert fake.calls[-1] == ("complete_task", {"by": "maria@acme.example", "decision": "approve",
                                                "data": {"approved_amount": 2500, "category": "travel"},
                                                "comment": "ok"})
    got, answer = api.call("POST", path, {"by": "maria@acme.example", "decision": "approve", "data": {}})
    assert got == 409 and "already completed" in answer["message"]
    got, answer = api.call("POST", path, {"decision": "approve"})
    assert got == 400 and "'by' is required" in answer["message"]


def test_without_human_tasks_in_the_client_the_inbox_says_so(
    api: Api, session: DevSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session.client, "tasks", None, raising=False)  # a stepbridge from before issue 15
    assert api.get("/api/overview")["tasks"] is False
    got, answer = api.call("GET", "/api/tasks")
    assert got == 501 and "no human tasks" in answer["message"]


# ---- forms from JSON schema ---------------------------------------------------------------------------------


def test_form_fields_follow_the_schema_in_declaration_order_with_constraints() -> None:
    class Nested(BaseModel):
        x: int

    class Form(BaseModel):
        decision: Decision
        score: int = Field(default=3, ge=1, le=5)
        when: datetime
        reason: str = Field(max_length=500)
        code: str = Field(pattern=r"^[A-Z]{3}$", max_length=3)
        nested: Nested | None = None

    fields = form_fields(schema_of(Form))
    assert [f["name"] for f in fields] == ["decision", "score", "when", "reason", "code", "nested"]
    kinds = {f["name"]: f["kind"] for f in fields}
    assert kinds == {"decision": "select", "score": "integer", "when": "datetime", "reason": "textarea",
                     "code": "text", "nested": "json"}
    by_name = {f["name"]: f for f in fields}
    assert by_name["decision"]["options"] == ["approve", "reject"] and by_name["decision"]["required"]
    assert (by_name["score"]["min"], by_name["score"]["max"], by_name["score"]["default"]) == (1, 5, 3)
    assert by_name["code"]["pattern"] == "^[A-Z]{3}$" and by_name["nested"]["nullable"] is True
    assert example_of(schema_of(Form))["score"] == 3
    assert form_fields(schema_of(list[int])) == [
        {"name": "", "label": "value", "kind": "json", "required": True, "nullable": False, "description": ""}
    ]
    assert form_fields(None) == [] and schema_of(Any) is None


# ---- the command ------------------------------------------------------------------------------------------


def test_stepbridge_dev_serves_the_project_app_until_stopped() -> None:
    import threading
    from pathlib import Path

    from stepbridge.devconsole.run import run_console

    app_file = str(Path(__file__).resolve().parents[2] / "functions" / "app.py")
    lines: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        ready.set()

    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(run_console(app_file, port=0, out=out, stop=stop)))
    thread.start()
    try:
        assert ready.wait(60), "the console did not start"
        url = lines[0].split(" at ")[1].split()[0]
        assert lines[0].startswith("stepbridge dev: app 'acme' on LocalCloud (memory) at http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/overview", timeout=30) as response:
            overview = json.loads(response.read())
        assert overview["app"] == "acme" and "expense-approval" in {w["name"] for w in overview["workflows"]}
    finally:
        stop.set()
        thread.join(30)
    assert codes == [0]


def test_stepbridge_dev_with_a_missing_app_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from stepbridge import cli

    assert cli.main(["dev", "no/such/app.py", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no/such/app.py" in err and err.count("\n") == 1


def test_stepbridge_dev_on_a_port_in_use_says_so_in_one_line(
    server: ConsoleServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from stepbridge import cli

    app_file = str(Path(__file__).resolve().parents[2] / "functions" / "app.py")
    assert cli.main(["dev", app_file, "--port", str(server.server_address[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{server.server_address[1]}") and "--port 0" in err


# ---- the inbox over real human tasks ------------------------------------------------------------------------


@needs_tasks
def test_a_real_task_is_in_its_assignees_inbox_with_its_form_and_completing_it_resumes_the_workflow(api: Api) -> None:
    started = api.post("/api/executions", {"workflow": "approval", "input": 120, "execution_id": "approval-1"})
    assert started["status"] == "RUNNING"
    assert api.get("/api/tasks?assignee=victor@acme.example&status=open")["tasks"] == []
    inbox = api.get("/api/tasks?assignee=maria@acme.example&status=open")["tasks"]
    assert len(inbox) == 1
    task = inbox[0]
    assert (task["title"], task["execution_id"], task["data"]) == ("Approve 120", "approval-1", {"amount": 120})
    assert task["decisions"] == ["approve", "reject"]
    fields = {f["name"]: f for f in task["fields"]}
    assert fields["approved_amount"]["kind"] == "number" and fields["approved_amount"]["required"] is False
    assert fields["note"]["kind"] == "textarea" and fields["note"]["default"] == ""
    assert "task" in api.get("/api/executions/approval-1")["tags"]
    listed = api.get("/api/executions")["executions"]  # the task's own item is no execution
    assert [(e["execution_id"], e["tags"]) for e in listed] == [("approval-1", ["task", "waiting"])]

    path = f"/api/tasks/{task['task_id']}/complete"
    got, answer = api.call("POST", path, {"by": "victor@acme.example", "decision": "approve", "data": {}})
    assert got == 403, answer
    got, answer = api.call("POST", path, {"by": "maria@acme.example", "decision": "approve",
                                          "data": {"approved_amount": -3}})
    assert got == 400 and "approved_amount" in answer["message"]
    got, answer = api.call("POST", path, {"by": "maria@acme.example", "decision": "maybe", "data": {}})
    assert got == 400 and "maybe" in answer["message"]
    assert api.get("/api/executions/approval-1")["execution"]["status"] == "RUNNING"  # nothing changed

    done = api.post(path, {"by": "maria@acme.example", "decision": "approve", "comment": "fine",
                           "data": {"approved_amount": 120, "note": "ok"}})
    assert done["task"]["status"] == "completed" and done["task"]["outcome"]["by"] == "maria@acme.example"
    shown = api.get("/api/executions/approval-1")["execution"]
    assert shown["status"] == "SUCCEEDED"
    assert shown["result"] == {"decision": "approve", "by": "maria@acme.example", "note": "ok"}
    got, answer = api.call("POST", path, {"by": "maria@acme.example", "decision": "approve", "data": {}})
    assert got == 409, answer
    everyone = api.get("/api/tasks?status=completed")["tasks"]
    assert [t["task_id"] for t in everyone] == [task["task_id"]]
    assert everyone[0]["audit"][0]["action"] == "created"
    assert everyone[0]["audit"][-1]["action"] == "completed"


@needs_tasks
def test_after_two_business_days_the_task_escalates_into_the_targets_inbox_and_a_claim_holds_it(api: Api) -> None:
    api.post("/api/executions", {"workflow": "approval", "input": 99, "execution_id": "approval-2"})
    assert api.post("/api/clock/advance", {"duration": "2bd"})["deliveries"] > 0
    escalated = api.get("/api/tasks?assignee=victor@acme.example&status=open")["tasks"]
    assert len(escalated) == 1 and escalated[0]["escalated"] is True
    assert "victor@acme.example" in escalated[0]["current_assignees"]
    task_id = escalated[0]["task_id"]
    released = api.post(f"/api/tasks/{task_id}/claim", {"by": "maria@acme.example"})  # she keeps access
    assert released["task"]["claimed_by"] == "maria@acme.example"
    released = api.post(f"/api/tasks/{task_id}/release", {"by": "maria@acme.example"})
    assert released["task"]["status"] == "open" and released["task"]["claimed_by"] is None
    claimed = api.post(f"/api/tasks/{task_id}/claim", {"by": "victor@acme.example"})
    assert claimed["task"]["status"] == "claimed" and claimed["task"]["claimed_by"] == "victor@acme.example"
    assert [a["action"] for a in api.get(f"/api/tasks/{task_id}")["task"]["audit"]][-3:] == [
        "claimed", "released", "claimed"]
    for query in ("assignee=victor@acme.example&status=active", "status=active", "status=claimed"):
        assert [t["task_id"] for t in api.get(f"/api/tasks?{query}")["tasks"]] == [task_id], query
    assert api.get("/api/tasks?assignee=victor@acme.example&status=open")["tasks"] == []
    got, answer = api.call("POST", f"/api/tasks/{task_id}/complete",
                           {"by": "maria@acme.example", "decision": "approve", "data": {}})
    assert got == 409 and "claimed by victor@acme.example" in answer["message"]
    api.post(f"/api/tasks/{task_id}/complete", {"by": "victor@acme.example", "decision": "reject", "data": {}})
    assert api.get("/api/executions/approval-2")["execution"]["result"]["decision"] == "reject"


def test_the_start_option_takes_now_or_an_instant_and_refuses_anything_else() -> None:
    from stepbridge.devconsole.run import parse_start
    from stepbridge.errors import StepbridgeError

    assert parse_start("2026-03-02T09:30Z") == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert parse_start("2026-03-02T09:30") == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert parse_start("2026-03-02T09:30+01:00").utcoffset() == timedelta(hours=1)
    now = parse_start("now")
    assert now.tzinfo is UTC and now.microsecond == 0 and abs(datetime.now(UTC) - now) < timedelta(minutes=1)
    with pytest.raises(StepbridgeError, match="--start 'monday' is not an instant"):
        parse_start("monday")


def test_a_script_using_the_session_client_directly_is_seen_by_the_list_and_the_stream(
    api: Api, session: DevSession
) -> None:
    start_order(api)
    assert api.get("/api/executions")["executions"][0]["tags"] == ["retried", "sleeping"]
    version = session.changes.version
    session.cloud.advance(timedelta(hours=3))  # the clock alone: the console has not been told
    session.client.send_event("Order.paid", {"orderId": "o-1", "amount": 40})  # a client call announces itself
    assert session.changes.version > version
    listed = api.get("/api/executions")["executions"]
    assert (listed[0]["status"], listed[0]["tags"]) == ("SUCCEEDED", ["retried"])
