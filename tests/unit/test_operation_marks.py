"""Decision tables of send, progress and patch (``runtime/operations/``): states -> action, no cloud."""

from __future__ import annotations

from stepbridge.runtime.operations.actions import Record, Return
from stepbridge.runtime.operations.patch import Patch
from stepbridge.runtime.operations.progress import Progress, Report
from stepbridge.runtime.operations.send import Publish, Send
from stepbridge.runtime.records import JournalRecord


def test_send_publishes_once_then_returns_its_record() -> None:
    send = Send("notify", "Order.shipped", {"id": 1})
    assert send.decide(Send.state("notify", {})) == Publish(
        Record("notify", "sent", {"type": "Order.shipped", "detail": {"id": 1}}, then=Return())
    )
    sent = JournalRecord("notify", "notify", "send", "sent", {"type": "Order.shipped"})
    assert send.decide(Send.state("notify", {"notify": sent})) == Return(sent)


def test_progress_reports_once() -> None:
    progress = Progress("$progress", 2, 5, "half")
    info = {"step": 2, "total": 5, "message": "half"}
    assert progress.decide(Progress.state("$progress", {})) == Report(
        info, Record("$progress", "progress", info, then=Return())
    )
    done = JournalRecord("$progress", "$progress", "progress", "progress", info)
    assert progress.decide(Progress.state("$progress", {"$progress": done})) == Return(done)


def test_patch_takes_the_new_path_when_recorded_or_new_and_the_old_one_while_behind_the_journal() -> None:
    patch = Patch("$patch:v2", "v2")
    assert patch.decide(Patch.state("$patch:v2", {}, replaying=False)) == Record(
        "$patch:v2", "patch", {"patch": "v2"}, then=Return()
    )
    assert patch.decide(Patch.state("$patch:v2", {}, replaying=True)) == Return(None)
    marker = JournalRecord("$patch:v2", "$patch:v2", "patch", "patch", {"patch": "v2"})
    assert patch.decide(Patch.state("$patch:v2", {"$patch:v2": marker}, replaying=True)) == Return(marker)
