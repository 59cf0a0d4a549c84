"""``stepbridge dev --moto``: the console over LocalCloud on moto, its calls made from the server's threads.

moto's mock is process-wide, so the handler threads of the console's HTTP server reach the same
mocked DynamoDB, SQS and EventBridge as the thread that opened the session; this checks it with the
example app (a start through the HTTP route, the execution in the list, its timeline, a sent event).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import fakes
import pytest
from app import app

from stepbridge.devconsole import ConsoleServer, DevSession, serve
from stepbridge.local.cloud import DEFAULT_START
from stepbridge.runtime import keys


@pytest.fixture
def console() -> Iterator[ConsoleServer]:
    fakes.reset()
    with DevSession(app, backend="moto", start=DEFAULT_START) as session:
        # as with `stepbridge run`, the app's recurring schedules stay off unless asked for (--schedules)
        assert app.schedules and not any(session.cloud.timers.exists(keys.schedule_id(s.name)) for s in app.schedules)
        server = serve(session)
        yield server
        server.stop()
    fakes.reset()


def call(server: ConsoleServer, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(server.url.rstrip("/") + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    if method == "POST":
        request.add_header("Content-Type", "application/json")
        request.add_header("X-Stepbridge-Token", server.token)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_the_console_drives_the_example_app_on_moto(console: ConsoleServer) -> None:
    overview = call(console, "GET", "/api/overview")
    assert overview["backend"] == "moto"
    # the send form suggests trigger and state machine event types
    assert {"Order.created", "Order.paid", "Order.fulfilled"} <= set(overview["event_types"])
    expense = {"id": "exp-3", "amount": 300, "employee": "eve@acme.example", "manager": "mia@acme.example",
               "vp": "victor@acme.example", "description": "Taxi"}
    started = call(console, "POST", "/api/executions",
                   {"workflow": "expense-approval", "input": expense, "execution_id": "expense-3"})
    assert started == {"execution_id": "expense-3", "created": True, "status": "RUNNING"}
    listed = call(console, "GET", "/api/executions?workflow=expense-approval&tag=waiting")["executions"]
    assert [e["execution_id"] for e in listed] == ["expense-3"]
    call(console, "POST", "/api/events", {"type": "Approval.decided", "detail": {
        "expenseId": "exp-3", "approver": "mia@acme.example", "decision": "approve"}})
    shown = call(console, "GET", "/api/executions/expense-3")
    assert shown["execution"]["status"] == "SUCCEEDED"
    assert 'data-step="approve"' in shown["timeline_html"]
    assert fakes.db.get("expenses", "exp-3")["status"] == "approved"
