"""Issue 15 part 2: ``ctx.task`` - the inbox, who may act, reminders, escalation, SLA and cancellation,
on the memory backend over virtual business days (a holiday and a weekend included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pydantic
import pytest

from stepbridge import App, BusinessDays, BusinessHours, Calendar, Context
from stepbridge.errors import TaskConflict, TaskForbidden, TaskInvalid, TaskNotFound
from stepbridge.local import LocalCloud

CAL = Calendar("Europe/Berlin", hours=("09:00", "17:00"), holidays=[date(2026, 12, 25)])
THU_10_CET = datetime(2026, 12, 24, 9, tzinfo=UTC)
MARIA, ANNA, VICTOR, EVE = "maria@acme.example", "anna@acme.example", "victor@acme.example", "eve@acme.example"


class Approval(pydantic.BaseModel):
    approved_amount: float
    cost_center: str = "general"


def _app(**task_options: Any) -> tuple[App, list[dict[str, Any]]]:
    app = App("tasks", calendar=CAL)
    breaches: list[dict[str, Any]] = []

    def on_breach(info: dict[str, Any]) -> None:
        breaches.append(info)

    @app.workflow("approve")
    async def approve(ctx: Context, amount: float) -> dict[str, Any]:
        out = await ctx.task("manager-approval", assignees=[MARIA, ANNA], form=Approval, title=f"Approve {amount}",
                             data={"amount": amount}, decisions=["approve", "reject"], on_breach=on_breach,
                             **task_options)
        assert isinstance(out.data, Approval)
        return {"decision": out.decision, "amount": out.data.approved_amount, "by": out.by,
                "comment": out.comment, "escalated": out.escalated, "actions": [a["action"] for a in out.audit]}

    return app, breaches


def reminders_to(client: Any, task_id: str) -> list[list[str]]:
    return [a["to"] for a in client.task(task_id).audit if a["action"] == "reminded"]


def _events(cloud: LocalCloud, kind: str) -> list[Any]:
    return [e for e in cloud.events if e.detail_type == kind]


def test_a_task_waits_in_the_inbox_and_its_completion_resumes_the_workflow() -> None:
    app, _ = _app()
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        handle = client.start("approve", 120.0)
        assert handle.status == "RUNNING"
        inbox = client.tasks(MARIA)
        assert [t["title"] for t in inbox] == ["Approve 120.0"]
        assert client.tasks(ANNA)[0]["task_id"] == inbox[0]["task_id"]
        assert client.tasks(VICTOR) == []
        task_id = inbox[0]["task_id"]
        assert client.task(task_id).form_schema["properties"]["approved_amount"]["type"] == "number"
        client.claim_task(task_id, by=MARIA)
        assert client.tasks(MARIA, "open") == [] and client.tasks(MARIA, "claimed")[0]["claimed_by"] == MARIA
        assert [t["status"] for t in client.tasks(MARIA, "active")] == ["claimed"]
        assert [t["status"] for t in client.tasks(ANNA, "active")] == ["claimed"]  # ANNA sees it taken
        client.complete_task(task_id, by=MARIA, decision="approve", data={"approved_amount": 100}, comment="ok")
        assert handle.result() == {"decision": "approve", "amount": 100.0, "by": MARIA, "comment": "ok",
                                   "escalated": False, "actions": ["created", "claimed", "completed"]}
        assert client.tasks(MARIA, "claimed") == [] and client.tasks(MARIA, "completed")[0]["task_id"] == task_id
        assert [e.detail_type for e in cloud.events if e.detail_type.startswith("Task.")] == [
            "Task.created", "Task.claimed", "Task.completed"]
        history = [e.detail for e in client.history(handle.execution_id) if e.detail.get("name") ==
                   "task:manager-approval:outcome"]
        assert [a["action"] for a in history[0]["result"]["audit"]] == ["created", "claimed", "completed"]


def test_wrong_assignee_double_completion_other_claimer_and_bad_data_change_nothing() -> None:
    app, _ = _app()
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        handle = client.start("approve", 50.0)
        task_id = client.tasks(MARIA)[0]["task_id"]
        before = client.task(task_id)
        with pytest.raises(TaskForbidden, match=r"eve@acme\.example is not an assignee"):
            client.complete_task(task_id, by=EVE, decision="approve", data={"approved_amount": 1})
        with pytest.raises(TaskForbidden):
            client.claim_task(task_id, by=EVE)
        with pytest.raises(TaskInvalid, match="approved_amount"):
            client.complete_task(task_id, by=MARIA, decision="approve", data={"approved_amount": "lots"})
        with pytest.raises(TaskInvalid, match="over the 65,536-byte limit"):
            client.complete_task(task_id, by=MARIA, decision="approve",
                                 data={"approved_amount": 1, "cost_center": "x" * 70_000})
        with pytest.raises(TaskInvalid, match="offers the decisions"):
            client.complete_task(task_id, by=MARIA, decision="maybe", data={"approved_amount": 1})
        assert client.task(task_id).version == before.version and client.task(task_id).status == "open"
        client.claim_task(task_id, by=ANNA)
        with pytest.raises(TaskConflict, match=r"claimed by anna@acme\.example"):
            client.complete_task(task_id, by=MARIA, decision="approve", data={"approved_amount": 1})
        with pytest.raises(TaskConflict):
            client.release_task(task_id, by=MARIA)
        client.release_task(task_id, by=ANNA)
        client.complete_task(task_id, by=MARIA, decision="reject", data={"approved_amount": 0})
        with pytest.raises(TaskConflict, match=r"already completed by maria@acme\.example"):
            client.complete_task(task_id, by=ANNA, decision="approve", data={"approved_amount": 1})
        assert handle.result()["decision"] == "reject"
        assert client.task(task_id).outcome["by"] == MARIA
        with pytest.raises(TaskNotFound):
            client.task("tk-" + "0" * 32)
        with pytest.raises(TaskNotFound, match="task ids look like"):
            client.task(f"{handle.execution_id}/manager-approval")


def test_reminders_escalation_and_sla_over_a_holiday_and_a_weekend() -> None:
    app, breaches = _app(remind_every=BusinessHours(8), due=BusinessHours(12), escalate_after=BusinessDays(3),
                         escalate_to=[VICTOR])
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        handle = client.start("approve", 2000.0)
        task_id = client.tasks(MARIA)[0]["task_id"]
        # Thu 10:00 CET + 8 business hours: 7 h on Thursday, the 25th is a holiday, the weekend: Mon 10:00
        cloud.advance_to(datetime(2026, 12, 28, 8, 59, tzinfo=UTC))
        assert _events(cloud, "Task.reminder") == []
        cloud.advance(timedelta(minutes=1))
        reminders = _events(cloud, "Task.reminder")
        assert len(reminders) == 1 and reminders[0].detail["assignees"] == [MARIA, ANNA]
        assert reminders[0].time.startswith("2026-12-28T09:00:00")
        # due = 12 business hours: Mon 14:00 CET -> Task.sla_breached and the hook, the task stays open
        cloud.advance_to(datetime(2026, 12, 28, 13, tzinfo=UTC))
        assert len(_events(cloud, "Task.sla_breached")) == 1 and len(breaches) == 1
        assert breaches[0]["task_id"] == task_id and handle.status == "RUNNING"
        # escalation after 3 business days: Wed 30 Dec 10:00 CET; reminders Tue 10:00 and Wed 10:00 too
        cloud.advance_to(datetime(2026, 12, 30, 9, tzinfo=UTC))
        escalations = _events(cloud, "Task.escalated")
        assert len(escalations) == 1 and escalations[0].detail["escalated_to"] == [VICTOR]
        assert len(_events(cloud, "Task.reminder")) == 3
        assert client.tasks(VICTOR)[0]["task_id"] == task_id
        assert client.tasks(MARIA)[0]["task_id"] == task_id  # the originals keep access by default
        client.complete_task(task_id, by=VICTOR, decision="approve", data={"approved_amount": 2000})
        result = handle.result()
        assert result["by"] == VICTOR and result["escalated"] is True
        # at the same instant the escalation comes first, so that reminder reaches the escalation target too
        assert result["actions"] == ["created", "reminded", "sla_breached", "reminded", "escalated", "reminded",
                                     "completed"]
        assert reminders_to(client, task_id)[-1] == [MARIA, ANNA, VICTOR]
        cloud.advance(timedelta(days=10))
        assert len(_events(cloud, "Task.reminder")) == 3  # no reminder after completion


def test_escalation_without_keeping_the_originals() -> None:
    app, _ = _app(escalate_after=BusinessHours(1), escalate_to=[VICTOR], keep_assignees=False)
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        handle = client.start("approve", 10.0)
        task_id = client.tasks(MARIA)[0]["task_id"]
        cloud.advance(timedelta(hours=1))
        assert client.tasks(MARIA) == [] and client.tasks(VICTOR)[0]["task_id"] == task_id
        with pytest.raises(TaskForbidden):
            client.complete_task(task_id, by=MARIA, decision="approve", data={"approved_amount": 1})
        assert client.task(task_id).may_view(MARIA)  # the audit trail stays readable to the originals
        client.complete_task(task_id, by=VICTOR, decision="approve", data={"approved_amount": 1})
        assert handle.result()["by"] == VICTOR


def test_cancelling_the_execution_cancels_its_open_task() -> None:
    app, _ = _app(remind_every=BusinessHours(1))
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        handle = client.start("approve", 10.0)
        task_id = client.tasks(MARIA)[0]["task_id"]
        handle.cancel()
        assert handle.status == "CANCELLED"
        cancelled = _events(cloud, "Task.cancelled")
        assert len(cancelled) == 1 and cancelled[0].detail["task_id"] == task_id
        assert client.task(task_id).status == "cancelled" and client.tasks(MARIA) == []
        with pytest.raises(TaskConflict, match="cancelled"):
            client.complete_task(task_id, by=MARIA, decision="approve", data={"approved_amount": 1})
        cloud.advance(timedelta(days=3))
        assert _events(cloud, "Task.reminder") == []


def test_reassign_moves_the_task_to_other_inboxes() -> None:
    app, _ = _app()
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        handle = client.start("approve", 10.0)
        task_id = client.tasks(MARIA)[0]["task_id"]
        client.reassign_task(task_id, by=MARIA, to=[EVE])
        assert client.tasks(MARIA) == [] and client.tasks(ANNA) == [] and client.tasks(EVE)[0]["task_id"] == task_id
        with pytest.raises(TaskForbidden):
            client.claim_task(task_id, by=MARIA)
        client.complete_task(task_id, by=EVE, decision="approve", data={"approved_amount": 3})
        assert handle.result()["actions"] == ["created", "reassigned", "completed"]


def test_bad_task_definitions_fail_the_execution_clearly() -> None:
    app = App("tasks")

    @app.workflow("bad")
    async def bad(ctx: Context, which: str) -> None:
        if which == "calendar":
            await ctx.task("t", assignees=[MARIA], due=BusinessDays(1))
        elif which == "escalation":
            await ctx.task("t", assignees=[MARIA], escalate_after=BusinessDays(1), calendar=CAL)
        else:
            await ctx.task("t", assignees=[])

    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        messages = {w: client.start("bad", w).describe().error["message"] for w in ("calendar", "escalation", "empty")}
    assert "needs a calendar" in messages["calendar"]
    assert "escalate_after= and escalate_to= go together" in messages["escalation"]
    assert "assignees must be a non-empty list" in messages["empty"]


class _Effects:
    """The two effects the task service uses: a fixed clock and a list of published events."""

    def __init__(self) -> None:
        self.published: list[Any] = []

    def now(self) -> datetime:
        return THU_10_CET

    def publish(self, events: Any) -> None:
        self.published.extend(events)


def test_a_racing_write_is_re_decided_on_the_new_version() -> None:
    from stepbridge.infra.memory import InMemoryStore
    from stepbridge.runtime import tasks as service

    class RacingStore(InMemoryStore):
        """Anna's claim lands between Maria's read of the task and Maria's conditional write."""

        raced = False

        def put_item(self, item: Any, *, if_absent: bool = False, if_version: int | None = None) -> bool:
            if if_version is not None and not self.raced:
                self.raced = True
                service.claim_task(self, effects, item.body["task_id"], ANNA)  # type: ignore[arg-type]
            return super().put_item(item, if_absent=if_absent, if_version=if_version)

    effects = _Effects()
    store = RacingStore(clock=lambda: THU_10_CET)
    task = service.TaskRecord(task_id="tk-" + "a" * 32, execution_id="e1", workflow="wf", name="t", title="t",
                              assignees=[MARIA, ANNA], created_at="2026-12-24T09:00:00.000000+00:00")
    service.create_task(store, effects, task)  # type: ignore[arg-type]
    with pytest.raises(TaskConflict, match=r"claimed by anna@acme\.example"):
        service.claim_task(store, effects, task.task_id, MARIA)  # type: ignore[arg-type]
    stored = service.get_task(store, task.task_id)
    assert (stored.status, stored.claimed_by, stored.version) == ("claimed", ANNA, 2)
    assert [a["action"] for a in stored.audit] == ["created", "claimed"]
    assert [e.detail_type for e in effects.published] == ["Task.created", "Task.claimed"]
    # the inbox followed the winner: one claimed entry per assignee
    assert [i["status"] for i in service.list_tasks(store, MARIA)] == ["claimed"]


def test_the_graph_draws_a_task_as_a_wait_with_its_assignees() -> None:
    from stepbridge.compiler.graph import mermaid

    app, _ = _app()
    assert '{{"task manager-approval · [MARIA, ANNA]"}}' in mermaid(app, "approve")


def test_a_form_is_loaded_by_its_import_path_and_must_be_a_pydantic_model() -> None:
    from stepbridge.runtime import tasks as service

    service._FORMS.clear()  # as in a fresh API container: the form is imported from its module
    assert service.resolve_form(f"{__name__}:Approval") is Approval
    with pytest.raises(TaskInvalid, match="not a pydantic model class"):
        service.resolve_form("os:system")
    with pytest.raises(TaskInvalid, match="cannot be loaded here"):
        service.resolve_form(f"{__name__}:Missing")


def test_the_identity_rule_maps_iam_users_role_sessions_and_jwt_subjects_to_assignee_names() -> None:
    from stepbridge.runtime.tasks import identity_names, inbox_name

    user = "arn:aws:iam::123456789012:user/ops/maria@acme.example"
    session = "arn:aws:sts::123456789012:assumed-role/Approvers/maria@acme.example"
    assert identity_names(user) == {user, MARIA}
    assert identity_names(session) == {session, MARIA}
    assert identity_names("jwt:maria@acme.example") == {"jwt:maria@acme.example", MARIA}
    assert identity_names(MARIA) == {MARIA}
    assert identity_names("arn:aws:iam::123456789012:role/Approvers") == {"arn:aws:iam::123456789012:role/Approvers"}
    assert inbox_name(session) == MARIA and inbox_name(MARIA) == MARIA


def test_task_items_expire_with_the_apps_retention_backstop() -> None:
    app = App("tasks", calendar=CAL, retention=timedelta(days=30))

    @app.workflow("ask")
    async def ask(ctx: Context) -> str:
        return str((await ctx.task("t", assignees=[MARIA])).decision)

    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        handle = client.start("ask", None)
        task = client.task(client.tasks(MARIA)[0]["task_id"])
        # retention + 365 days from creation, as runtime/retention.py's backstop of an execution's items
        assert task.expires_at is not None and task.expires_at.startswith("2028-01-23T09:00:00")
        client.complete_task(task.task_id, by=MARIA, decision="ok")
        assert handle.result() == "ok"
        cloud.advance_to(datetime(2028, 1, 24, tzinfo=UTC))
        with pytest.raises(TaskNotFound):
            client.task(task.task_id)
        assert client.tasks(MARIA, None) == []
