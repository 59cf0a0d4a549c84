"""The README's first command: ``stepbridge demo`` tells the story it promises."""

from __future__ import annotations

from stepbridge.cli import main


def test_demo_runs_every_scene_and_ends_as_the_story_says(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # from any directory: the checkout's functions/app.py is found beside the package
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "result: {'expenseId': 'exp-7', 'status': 'approved'}" in out
    assert "+2d02:00:00 = SUCCEEDED" in out  # the approval took two virtual days
    assert "product-1 stock after compensation: 10 (of 10)" in out
    assert "x FAILED: Payment failed: card declined for order o-13" in out
    assert "step call-api after 3 attempts" in out
    assert "child ecommerce-o-21.child:reserve-inventory@0 SUCCEEDED" in out
    assert "statuses ['FAILED', 'SUCCEEDED']" in out


def test_demo_says_in_one_line_what_it_needs_without_a_checkout(monkeypatch, tmp_path, capsys) -> None:
    import stepbridge

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stepbridge, "__file__", str(tmp_path / "site-packages" / "stepbridge" / "__init__.py"))
    assert main(["demo"]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("error: functions/app.py not found: ")
    assert "python3 dev.py demo" in out[0] and "stepbridge init" in out[0]


def test_demo_of_a_missing_app_file_is_one_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--app", "elsewhere/app.py:app"]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [out[0]] and out[0].startswith("error: elsewhere/app.py not found")
