"""``stepbridge dev`` in a real browser: Playwright drives headless Chromium through the example app.

Needs the ``playwright`` package (``pip install 'stepbridge[console]'``) and a ``chromium`` binary
(Debian: ``apt-get install chromium``; Playwright's own browser download is not used). Without
either the tests are skipped with the reason. The console runs in this process on an ephemeral
port over LocalCloud's memory backend, as ``stepbridge dev`` does by default; the virtual clock
moves only when the page's controls move it. The screenshots go to the folder
``STEPBRIDGE_CONSOLE_SCREENSHOTS`` names (``docs/img`` for the documentation's pictures), else tmp_path.
"""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakes
import pytest
from app import app
from example_data import EXPENSE

from stepbridge.devconsole import ConsoleServer, DevSession, serve
from stepbridge.local.cloud import DEFAULT_START

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import Page, expect, sync_playwright

    # Assertions retry up to 20 s (the default is 5 s): under the suite's parallel workers the console's cloud,
    # the browser and another worker share the machine, and a wake-up after a click can take longer than 5 s.
    expect.set_options(timeout=20_000)
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(
        sync_playwright is None, reason="playwright is not installed (pip install 'stepbridge[console]')"
    ),
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)"),
]



@pytest.fixture
def console() -> Iterator[ConsoleServer]:
    # Playwright's sync client (the ``page`` fixture, torn down before this one) leaves its event loop, driver
    # subprocess, pipes and greenlets in reference cycles. Finalized by the cyclic collector at a random point
    # inside a later test's Playwright calls, they lost a ``fill`` now and then (about 1 run in 20). So the
    # collector runs before and after each browser test, never during one.
    gc.collect()
    gc.disable()
    try:
        fakes.reset()
        with DevSession(app, start=DEFAULT_START) as session:
            server = serve(session)
            yield server
            server.stop()
        fakes.reset()
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture
def page(console: ConsoleServer) -> Iterator[Any]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto(console.url)
        yield tab
        assert errors == [], errors  # no script error on the page
        browser.close()


def start(page: Page, workflow: str, payload: str, execution_id: str) -> None:
    page.select_option("#start-workflow", workflow)
    page.fill("#start-id", execution_id)
    page.fill("#start-input", payload)
    page.click("#start-btn")
    expect(page.locator("#detail h1")).to_have_text(workflow)


def send(page: Page, event_type: str, detail: str) -> None:
    page.fill("#event-type", event_type)
    page.fill("#event-detail", detail)
    page.click("#event-btn")
    expect(page.locator("#message")).to_contain_text(f"sent {event_type}")


def test_the_page_runs_the_event_based_expense_approval_with_the_clock_controls(page: Page, tmp_path: Path) -> None:
    import json

    start(page, "expense-approval", json.dumps(EXPENSE), "expense-1")
    expect(page.locator("#detail-status")).to_have_text("RUNNING")
    expect(page.locator('#detail .g-row[data-kind="wait"]')).to_have_attribute("data-status", "waiting")
    expect(page.locator('#executions tr[data-id="expense-1"]')).to_have_attribute("data-status", "RUNNING")

    page.fill("#advance-input", "20h")
    page.click("#advance-btn")
    expect(page.locator("#clock-now")).to_have_attribute("data-now", "2026-01-06T04:00:00.000000+00:00")
    send(page, "Approval.decided", json.dumps({"expenseId": "exp-7", "approver": EXPENSE["manager"],
                                               "decision": "approve"}))
    expect(page.locator('#detail .g-row[data-kind="wait"]')).to_have_count(2)  # the live stream redrew it
    send(page, "Approval.decided", json.dumps({"expenseId": "exp-7", "approver": EXPENSE["vp"],
                                               "decision": "approve"}))
    expect(page.locator("#detail-status")).to_have_text("SUCCEEDED")
    steps = page.locator("#detail .gantt .g-row[data-step]")
    names = [steps.nth(i).get_attribute("data-step") for i in range(steps.count())]
    assert names[0] == "submit" and "approve" in names and "escalate" in names

    shot = screenshot_path(tmp_path, "console-events.png")
    page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000

    page.select_option("#filter-status", "SUCCEEDED")
    expect(page.locator("#executions tr[data-id]")).to_have_count(1)
    page.select_option("#filter-status", "RUNNING")
    expect(page.locator("#executions tr[data-id]")).to_have_count(0)
    expect(page.locator("#executions-empty")).to_be_visible()


def test_a_bad_input_shows_one_line_and_starts_nothing(page: Page) -> None:
    page.select_option("#start-workflow", "expense-approval")
    page.fill("#start-input", '{"id": "exp-1"}')
    page.click("#start-btn")
    expect(page.locator("#message")).to_have_class("error")
    expect(page.locator("#message")).to_contain_text("the input of workflow 'expense-approval' is invalid")
    page.click("#next-timer-btn")
    expect(page.locator("#message")).to_contain_text("no timer is set")
    expect(page.locator("#executions tr[data-id]")).to_have_count(0)
    assert page.locator("#detail .gantt").count() == 0  # no execution to show


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where a screenshot goes: the folder ``STEPBRIDGE_CONSOLE_SCREENSHOTS`` names (docs/img), else tmp_path."""
    folder = Path(os.environ.get("STEPBRIDGE_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.mark.skipif("expense-approval-tasks" not in app.workflows,
                    reason="the example app has no expense-approval-tasks (human tasks, ctx.task, not in this version)")
def test_the_inbox_approves_the_expense_as_manager_then_vp(page: Page, tmp_path: Path) -> None:
    import json

    start(page, "expense-approval-tasks", json.dumps(EXPENSE), "expense-tasks-1")
    expect(page.locator("#detail-status")).to_have_text("RUNNING")

    page.fill("#advance-input", "2bd")
    page.click("#advance-btn")
    expect(page.locator("#message")).to_contain_text("clock moved from 2026-01-05 08:00:00")

    page.click("#nav-inbox")
    page.fill("#identity", EXPENSE["manager"])
    page.press("#identity", "Tab")
    manager_task = page.locator(".task[data-status='open']").filter(has_text="Approve expense exp-7")
    expect(manager_task).to_have_count(1)
    expect(manager_task.locator("[data-field='approved_amount']")).to_be_visible()
    manager_task.locator("[data-field='approved_amount']").fill("2500")
    manager_task.locator("[data-field='note']").fill("Within the travel budget")
    manager_task.locator("textarea[name='comment']").fill("ok from me")
    manager_task.locator("button[data-decision='approve']").click()
    expect(page.locator("#message")).to_contain_text("approve: ")
    expect(page.locator(".task").filter(has_text="Approve expense exp-7")).to_have_count(0)  # gone from her open inbox

    page.fill("#identity", EXPENSE["vp"])
    page.press("#identity", "Tab")
    vp_task = page.locator(".task[data-status='open']").filter(has_text="VP approval of expense exp-7")
    expect(vp_task).to_have_count(1)  # the VP task appeared (the manager's escalated one is no longer open)
    expect(vp_task.locator(".task-data")).to_contain_text("Within the travel budget")
    vp_task.locator("[data-field='approved_amount']").fill("2500")
    inbox_shot = screenshot_path(tmp_path, "console-inbox.png")
    page.screenshot(path=str(inbox_shot))
    vp_task.locator("button[data-decision='approve']").click()
    expect(page.locator(".task").filter(has_text="VP approval of expense exp-7")).to_have_count(0)

    page.select_option("#task-status", "completed")
    # the VP's inbox holds both: his own task, and the manager's, escalated to him after two business days
    expect(page.locator(".task[data-status='completed']")).to_have_count(2)
    expect(page.locator(".task[data-status='completed'] .outcome").first).to_contain_text("approve by")
    page.goto(page.url.split("#")[0] + "#/executions/expense-tasks-1")
    expect(page.locator("#detail-status")).to_have_text("SUCCEEDED")
    rows = page.locator("#detail .gantt .g-row[data-step]")
    names = [rows.nth(i).get_attribute("data-step") for i in range(rows.count())]
    assert names[0] == "submit" and names[-1] == "approve", names
    assert any(n.startswith("task:manager-approval") for n in names if n)
    assert any(n.startswith("task:vp-approval") for n in names if n)
    expect(page.locator("#detail pre").nth(1)).to_contain_text('"approvedBy": "mia@acme.example"')
    shot = screenshot_path(tmp_path, "console.png")
    page.screenshot(path=str(shot))
    for picture in (inbox_shot, shot):
        assert picture.read_bytes().startswith(b"\x89PNG") and picture.stat().st_size > 20_000
