"""The operator renderers on example-app executions run in LocalCloud: timeline rows, the terminal
table, the HTML report and the Mermaid path of what each execution actually did.

Each test runs a seed workflow (``fakes`` reset by the ``cloud`` fixture), then renders
``client.describe(id)`` / ``client.history(id)`` - exactly what ``stepbridge executions show`` and
``stepbridge report`` render for a deployed stack.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import fakes
import pytest
from example_data import EXPENSE, LEAD, order

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.operator import mermaid_path, render_html, render_text, timeline_json
from stepbridge.timeline import build_timeline, render, render_table

DOCUMENT = {"id": "d-1", "title": "Spec", "type": "contract", "department": "legal"}

_NODE = re.compile(r'^\s+(\w+)(?:\[\[|\[/|\[\(|\{\{|\(\[|\[|>|\()"(.*)"(?:\]\]|/\]|\)\]|\}\}|\]\)|\]|\))$')
_EDGE = re.compile(r"^\s+(\w+) (-->|-\.->\|error\|) (\w+)$")


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, bool]], dict[str, str]]:
    """(node id -> label, edges as (from label, to label, is_error_edge), node id -> class)."""
    labels: dict[str, str] = {}
    raw_edges: list[tuple[str, str, bool]] = []
    classes: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        if m := _EDGE.match(line):
            raw_edges.append((m.group(1), m.group(3), m.group(2) != "-->"))
        elif m := _NODE.match(line):
            labels[m.group(1)] = m.group(2).replace("#quot;", '"')
        elif line.strip().startswith("class "):
            _, ids, cls = line.split()
            classes.update(dict.fromkeys(ids.split(","), cls))
    edges = [(labels[a], labels[b], err) for a, b, err in raw_edges]
    return labels, edges, {labels[k]: v for k, v in classes.items()}


def chain(edges: list[tuple[str, str, bool]]) -> list[str]:
    """Labels along a path without branches, from the start node."""
    following = {a: b for a, b, _ in edges}
    node = next(a for a, _, _ in edges if a.startswith("start: "))
    path = [node]
    while node in following:
        node = following[node]
        path.append(node)
    return path


def rendered(client: Any, execution_id: str) -> tuple[Any, list[Any]]:
    return client.describe(execution_id), client.history(execution_id)


def step_names(history: list[Any]) -> set[str]:
    """Every operation name the journal mentions (steps, waits, sleeps, children)."""
    return {
        e.detail["name"]
        for e in history
        if not e.sent
        and "name" in e.detail
        and e.detail_type.split(".")[0] in ("Step", "Wait", "Timer", "Child")
    }


def test_retried_step_has_its_attempts_errors_backoff_and_duration(cloud: LocalCloud, client: Any) -> None:
    fakes.knobs.external_api_failures = 2
    client.start("api-call", {"q": "status"}, execution_id="api-1").result()
    description, history = rendered(client, "api-1")

    timeline = build_timeline(history, description)
    row = timeline.row("call-api")
    assert (row.kind, row.status, row.attempts) == ("step", "succeeded", 3)
    assert row.errors == [
        "attempt 1: ExternalAPIError: external API returned 503",
        "attempt 2: ExternalAPIError: external API returned 503",
    ]
    assert [r["attempt"] for r in row.retries] == [1, 2]
    backoff = sum(r["delay"] for r in row.retries)
    assert row.duration == pytest.approx(backoff, abs=1e-3)  # the only time that passed: two durable retry timers
    assert timeline.duration == pytest.approx(row.duration)

    text = render_text(description, history)
    assert "call-api" in text and "succeeded" in text and "retry of attempt 2 at" in text
    assert re.search(r"call-api\s+step\s+\+00:00:00\s+\+00:00:0\d\s+\d\.\ds\s+3\s+succeeded", text)

    _, edges, classes = parse_mermaid(mermaid_path(history, description))
    assert chain(edges) == [
        "start: api-call",
        f"call-api · 3 attempts · {_dur(row.duration)}",
        f"SUCCEEDED in {_dur(timeline.duration)}",
    ]
    assert classes[f"SUCCEEDED in {_dur(timeline.duration)}"] == "ok"


def _dur(seconds: float | None) -> str:
    from stepbridge.timeline import format_duration

    return format_duration(seconds)


def test_human_approval_shows_waits_with_deadlines_durations_and_sent_events(cloud: LocalCloud, client: Any) -> None:
    h = client.start("expense-approval", EXPENSE, execution_id="expense-1")
    cloud.advance(timedelta(hours=20))
    client.send_event("Approval.decided", {"expenseId": "exp-7", "approver": EXPENSE["manager"], "decision": "approve"})
    cloud.advance(timedelta(hours=30))
    client.send_event("Approval.decided", {"expenseId": "exp-7", "approver": EXPENSE["vp"], "decision": "approve"})
    assert h.result()["status"] == "approved"
    description, history = rendered(client, "expense-1")

    timeline = build_timeline(history, description)
    assert [r.name for r in timeline.rows] == [
        "submit",
        "wait:Approval.decided",
        "escalate",
        "wait:Approval.decided#2",
        "approve",
    ]
    first, second = timeline.row("wait:Approval.decided"), timeline.row("wait:Approval.decided#2")
    assert (first.kind, first.status, first.duration) == ("wait", "received", 20 * 3600)
    assert (second.status, second.duration) == ("received", 30 * 3600)
    assert first.deadline == "2026-01-07T08:30:00.000000+00:00"  # 48 h after it began
    assert first.result == {"approver": EXPENSE["manager"], "decision": "approve", "expenseId": "exp-7"}
    assert timeline.duration == 50 * 3600
    assert [g[0].name for g in timeline.groups()] == [r.name for r in timeline.rows]  # all sequential
    assert [m.label for m in timeline.markers] == [
        "Expense.submitted",
        "Approval.requested",
        "Expense.approved",
        "Payment.process",
    ]

    table = render_table(timeline)
    assert "SUCCEEDED in 2d 02h" in table
    assert re.search(r"wait:Approval\.decided\s+wait\s+\+00:00:00\s+\+20:00:00\s+20h 00m", table)
    assert re.search(r"wait:Approval\.decided#2\s+wait\s+\+20:00:00\s+\+2d02:00:00\s+1d 06h", table)
    assert "deadline was 2026-01-07T08:30:00" in table

    _, edges, _ = parse_mermaid(mermaid_path(history, description))
    assert chain(edges) == [
        "start: expense-approval",
        "submit",
        "send Expense.submitted",
        'wait Approval.decided {"expenseId":"exp-7"} · 20h 00m · received',
        "escalate",
        "send Approval.requested",
        'wait Approval.decided {"expenseId":"exp-7"} · 1d 06h · received',
        "approve",
        "send Expense.approved",
        "send Payment.process",
        "SUCCEEDED in 2d 02h",
    ]


def test_failed_declared_step_is_styled_and_the_compensation_path_follows_an_error_edge(
    cloud: LocalCloud, client: Any
) -> None:
    fakes.knobs.decline_payments = True
    h = client.start("process-payment", order("o-13"), execution_id="payment-o-13")
    with pytest.raises(Exception, match="card declined"):
        h.result()
    description, history = rendered(client, "payment-o-13")

    timeline = build_timeline(history, description)
    charge = timeline.row("charge-payment")
    assert (charge.kind, charge.target, charge.status, charge.attempts) == ("lambda", "charge-payment", "failed", 1)
    assert charge.errors == ["attempt 1: PaymentDeclined: Payment failed: card declined for order o-13"]
    assert timeline.row("notify-failure").target == "send-email"

    _, edges, classes = parse_mermaid(mermaid_path(history, description))
    declined = "PaymentDeclined: Payment failed: card declined for order o-13"
    failed_node = f"charge-payment · λ charge-payment · failed · {declined}"
    assert classes[failed_node] == "failed"
    assert (failed_node, "release-inventory", True) in edges  # dotted error edge to the compensation
    assert ("start: process-payment", "reserve-inventory", False) in edges
    assert chain(edges)[-3:] == [
        "notify-failure · λ send-email",
        "send Order.failed",
        "FAILED: PaymentDeclined: Payment failed: card declined for order o-13",
    ]
    assert classes["FAILED: PaymentDeclined: Payment failed: card declined for order o-13"] == "failed"
    assert next(line for line in mermaid_path(history).splitlines() if "[[" in line).startswith("    n2[[")


def test_children_are_rows_with_their_execution_ids_and_drawn_as_children(cloud: LocalCloud, client: Any) -> None:
    client.start("ecommerce-order", order("o-21"), execution_id="ecommerce-o-21").result()
    description, history = rendered(client, "ecommerce-o-21")

    timeline = build_timeline(history, description)
    children = [r for r in timeline.rows if r.kind == "child"]
    assert [(r.target, r.status) for r in children] == [
        ("reserve-inventory", "succeeded"),
        ("process-payment", "succeeded"),
        ("send-confirmation", "succeeded"),
        ("fulfill-order", "succeeded"),
    ]
    assert children[0].child_id == "ecommerce-o-21.child:reserve-inventory@0"
    mermaid = mermaid_path(history, description)
    assert '[/"child reserve-inventory [ecommerce-o-21.child:reserve-inventory@0]"/]' in mermaid
    assert "reserve-inventory [ecommerce-o-21.child:reserve-inventory@0]" in render_text(description, history)


def test_timed_out_waits_are_failures_caught_by_the_workflow(cloud: LocalCloud, client: Any) -> None:
    h = client.start("document-review", DOCUMENT, execution_id="review-d-1")
    with pytest.raises(Exception, match="timed out"):
        h.result()  # nobody reviews: 7 days, a reminder, 2 more days
    description, history = rendered(client, "review-d-1")

    timeline = build_timeline(history, description)
    first = timeline.row("wait:Review.submitted")
    assert (first.status, first.duration) == ("timed-out", 7 * 86400)
    assert first.errors == ["no Review.submitted before 2026-01-12T08:30:00"]
    assert timeline.row("remind-r-legal").start == first.end
    assert timeline.duration == 9 * 86400
    _, edges, classes = parse_mermaid(mermaid_path(history, description))
    wait_label = next(label for label in classes if label.startswith("wait Review.submitted"))
    assert wait_label.startswith('wait Review.submitted {"documentId":"d-1","reviewerId":"r-legal"} · 7d 00h · timed')
    assert classes[wait_label] == "failed"
    assert (wait_label, "remind-r-legal · λ send-email", True) in edges


def test_running_execution_shows_what_it_waits_for_and_until_when(cloud: LocalCloud, client: Any) -> None:
    client.start("expense-approval", EXPENSE, execution_id="expense-open")
    cloud.advance(timedelta(hours=5))
    description, history = rendered(client, "expense-open")
    now = cloud.now().isoformat()

    timeline = build_timeline(history, description, now=now)
    wait = timeline.row("wait:Approval.decided")
    assert (wait.status, wait.end, wait.duration) == ("waiting", None, None)
    assert timeline.span == 5 * 3600  # the chart runs to the clock's now
    text = render_text(description, history, now=now)
    assert "times out 2026-01-07T08:30:00" in text and "RUNNING" in text
    assert 'finish(["RUNNING: waiting Approval.decided"])' in mermaid_path(history, description)
    page = render_html(description, history, now=now)
    assert 'data-step="wait:Approval.decided"' in page and 'class="badge RUNNING"' in page

    client.cancel("expense-open")
    description, history = rendered(client, "expense-open")
    cancelled = build_timeline(history, description).row("wait:Approval.decided")
    assert cancelled.status == "cancelled" and cancelled.end == description.ended_at
    assert 'finish(["CANCELLED' in mermaid_path(history, description)


def test_progress_markers_and_json_document(cloud: LocalCloud, client: Any) -> None:
    client.start("tracked", {"items": [1, 2, 3]}, execution_id="tracked-1").result()
    description, history = rendered(client, "tracked-1")

    doc = timeline_json(description, history)
    assert doc["execution"]["status"] == "SUCCEEDED"
    assert [s["name"] for s in doc["timeline"]["steps"]] == [f"step-{i}" for i in range(1, 6)]
    assert all(s["attempts"] == 1 and s["duration"] == 0 for s in doc["timeline"]["steps"])
    assert doc["timeline"]["progress"] == {"step": 5, "total": 5, "message": "done"}
    assert [m["label"] for m in doc["timeline"]["markers"]][-1] == "5/5 done"
    assert len(doc["history"]) == len(history)
    assert "progress 5/5 done" in render_text(description, history)


def test_report_is_self_contained_and_names_every_step(cloud: LocalCloud, client: Any) -> None:
    fakes.knobs.external_api_failures = 1
    runs = {
        "api-1": ("api-call", {"q": "status"}),
        "lead-1": ("enrich-lead", LEAD),
        "eco-1": ("ecommerce-order", order("o-31")),
        "campaign-1": ("email-campaign", {"id": "c-1", "segment": "newsletter", "template": "promo"}),
    }
    for execution_id, (workflow, payload) in runs.items():
        client.start(workflow, payload, execution_id=execution_id).result()
    for execution_id in runs:
        description, history = rendered(client, execution_id)
        page = render_html(description, history)
        names = step_names(history)
        assert names, execution_id
        for name in names:
            assert f'data-step="{name}"' in page, (execution_id, name)
        assert page.startswith("<!doctype html>") and "</html>" in page
        assert "<script" not in page and "<link" not in page and "@import" not in page
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
        assert "url(" not in page  # no fonts or images fetched from anywhere
    campaign = build_timeline(*reversed(rendered(client, "campaign-1")))
    sleeps = [r for r in campaign.rows if r.kind == "sleep"]
    assert len(sleeps) == 3 and all(r.status == "slept" and r.duration == pytest.approx(0.1) for r in sleeps)


def test_html_escapes_what_it_shows(cloud: LocalCloud, client: Any) -> None:
    client.start("api-call", {"q": "<script>alert(1)</script>"}, execution_id="api-xss").result()
    page = render_html(*rendered(client, "api-xss"))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_demo_timeline_is_unchanged_by_the_row_view(cloud: LocalCloud, client: Any) -> None:
    client.start("api-call", {"q": "status"}, execution_id="api-plain").result()
    description, history = rendered(client, "api-plain")
    assert render("api-plain", "api-call", history).splitlines() == [
        "api-call  [api-plain]",
        '  +00:00:00 > started api-call with {"q":"status"}',
        '  +00:00:00 + step call-api -> {"attempt":1,"echo":{"q":"status"},"ok":true}',
        '  +00:00:00 = SUCCEEDED -> {"attempt":1,"echo":{"q":"status"},"ok":true}',
    ]
    # dict histories (runtime.executions.history) render the same as HistoryEvent objects
    as_dicts = [e.to_dict() for e in history]
    assert render_table(build_timeline(as_dicts, description)) == render_table(build_timeline(history, description))


# ---- parallel stages, with a small app of its own ------------------------------------------------------

par = App("par")


@par.step(timeout=30)
def flaky(n: int) -> int:
    if fakes.knobs.external_api_failures > 0:
        fakes.knobs.external_api_failures -= 1
        raise RuntimeError("flaky failed")
    return n


@par.workflow("fan-out")
async def fan_out(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    ok = await ctx.step("prepare", lambda: True)
    approval, _, value = await ctx.gather(
        ctx.wait_for("Go.ahead", match={"id": data["id"]}, timeout=timedelta(hours=2)),
        ctx.sleep(timedelta(hours=1)),
        ctx.step("flaky", flaky, 7),
    )
    await ctx.progress(step=1, total=1, message="joined")
    return {"ok": ok, "approval": approval, "value": value}


def test_overlapping_operations_are_grouped_as_one_parallel_stage() -> None:
    fakes.reset()
    fakes.knobs.external_api_failures = 1
    with LocalCloud(par) as cloud:
        client = cloud.client()
        h = client.start("fan-out", {"id": "x"}, execution_id="fan-1")
        cloud.advance(timedelta(minutes=30))
        client.send_event("Go.ahead", {"id": "x"})
        assert h.result()["value"] == 7
        description, history = client.describe("fan-1"), client.history("fan-1")
    fakes.reset()

    timeline = build_timeline(history, description)
    stages = [[r.name for r in stage] for stage in timeline.groups()]
    assert stages == [["prepare"], ["wait:Go.ahead@0", "sleep@1", "flaky"]]  # gather branches are numbered
    assert timeline.row("wait:Go.ahead@0").duration == 1800
    assert timeline.row("sleep@1").status == "slept" and timeline.row("sleep@1").duration == 3600
    flaky_row = timeline.row("flaky")
    assert (flaky_row.kind, flaky_row.attempts, flaky_row.status) == ("lambda", 2, "succeeded")

    table = render_table(timeline)
    assert re.search(r"/ wait:Go\.ahead@0", table) and re.search(r"\| sleep@1", table)
    assert re.search(r"\\ flaky", table)

    mermaid = mermaid_path(history, description)
    labels, edges, _ = parse_mermaid(mermaid)
    assert 'subgraph par1 ["parallel"]' in mermaid
    parallel = mermaid.split('subgraph par1 ["parallel"]')[1].split("    end")[0]
    assert parallel.count('"') == 6  # the three branches, and only them, inside the subgraph
    branches = [v for v in labels.values() if v.startswith(("wait Go.ahead", "sleep sleep@1", "flaky"))]
    assert len(branches) == 3
    for branch in branches:
        assert ("prepare", branch, False) in edges  # fork
        assert (branch, "SUCCEEDED in 1h 00m", False) in edges  # join

    page = render_html(description, history)
    assert page.count('class="g-row g-par"') == 3
