"""Every CLI command answers a missing or wrong file with one line and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepbridge import cli


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text("a: [\n")
    (tmp_path / "plain.yaml").write_text("a: 1\n")
    (tmp_path / "notapp.py").write_text("x = 1\n")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["validate", "missing.yaml"], "template missing.yaml not found"),
        (["validate"], "template template.yaml not found"),
        (["validate", "broken.yaml"], "broken.yaml is not a readable SAM template"),
        (["validate", "plain.yaml"], "plain.yaml is not a SAM template"),
        (["compile", "missing.py"], "missing.py not found"),
        (["compile", "notapp.py"], "notapp.py"),
        (["graph", "x", "--app", "missing.py"], "missing.py not found"),
        (["run", "x", "--app", "missing.py"], "missing.py"),
        (["run", "x", "--app", "notapp.py"], "notapp.py"),
        (["events", "send", "X.happened", "--app", "missing.py"], "missing.py"),
        (["run", "x", "--input", "@nofile.json", "--app", "missing.py"], "nofile.json"),
        (["package", "-o", "/proc/no/such/folder"], "/proc/no"),
    ],
)
def test_a_bad_path_is_one_line_and_exit_2(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out
