"""``stepbridge init``: a newcomer's project, outside this repository, passes its tests, compiles and validates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stepbridge.cli import main


def test_init_makes_a_project_whose_tests_pass_and_which_compiles_and_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "My Proj"
    assert main(["init", str(project)]) == 0
    assert "created app 'my-proj'" in capsys.readouterr().out
    for relative in ("functions/app.py", "tests/test_app.py", "pyproject.toml", "samconfig.toml", "README.md"):
        assert (project / relative).is_file(), relative
    assert 'stepbridge_app = "functions/app.py:app"' in (project / "pyproject.toml").read_text()
    assert 'stack_name = "my-proj"' in (project / "samconfig.toml").read_text()

    # Its tests pass at once, run as a user would (a pytest of its own, the plugin from the entry point).
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout

    monkeypatch.chdir(project)
    assert main(["compile"]) == 0
    template = (project / "template.yaml").read_text()
    assert "CodeUri: functions/" in template and "STEPBRIDGE_APP" in template
    assert (project / ".stepbridge-build" / "layer" / "requirements.txt").is_file()
    assert main(["validate"]) == 0
    assert "template.yaml: valid" in capsys.readouterr().out


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert main(["init", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not an empty folder" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


def test_init_needs_a_usable_app_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "123")]) == 2
    assert "--name" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "123"), "--name", "Billing App"]) == 0
    assert 'App("billing-app")' in (tmp_path / "123" / "functions" / "app.py").read_text()
