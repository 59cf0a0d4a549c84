"""The README's first command: ``stepbridge demo`` tells the story it promises."""

from __future__ import annotations

from pathlib import Path

from stepbridge.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_every_scene_and_ends_as_the_story_says(monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "result: {'expenseId': 'exp-7', 'status': 'approved'}" in out
    assert "+2d02:00:00 = SUCCEEDED" in out  # the approval took two virtual days
    assert "product-1 stock after compensation: 10 (of 10)" in out
    assert "x FAILED: Payment failed: card declined for order o-13" in out
    assert "step call-api after 3 attempts" in out
    assert "child ecommerce-o-21.child:reserve-inventory@0 SUCCEEDED" in out
    assert "statuses ['FAILED', 'SUCCEEDED']" in out


def test_demo_reports_a_missing_app_clearly(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 2
    assert "functions/app.py not found" in capsys.readouterr().out
