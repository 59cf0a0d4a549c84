#!/usr/bin/env python3
"""Bootstrap and run the project's tasks with nothing but Python 3.11+.

    python3 dev.py demo     # the seed's workflows on the local (moto) cloud
    python3 dev.py test     # lint, type-check, template freshness, then the test suite

The first run creates ``.venv`` and installs the project with its dev extras; later runs reuse
it and reinstall only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".stepbridge-installed"


def run(*cmd: str | Path, check: bool = True) -> int:
    """Run a command from the repository root, echoing it."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)
    if check and code != 0:
        sys.exit(code)
    return code


def ensure_env() -> None:
    """Create the virtualenv and install ``.[dev]`` when missing or when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"stepbridge needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(digest)


def task_demo(args: list[str]) -> int:
    """Run the guided tour of the example app on LocalCloud."""
    return run(BIN / "stepbridge", "demo", *args, check=False)


def task_check(args: list[str]) -> int:
    """ruff, mypy --strict, the import contracts, and the committed template.yaml is what the compiler produces now."""
    run(BIN / "ruff", "check", "stepbridge", "functions", "tests", "benchmarks", "dev.py")
    run(BIN / "mypy", "--strict", "stepbridge")
    run(BIN / "lint-imports", "--no-cache")  # the layering contracts in pyproject.toml [tool.importlinter]
    run(BIN / "stepbridge", "compile", "functions/app.py", "--check", "-o", "template.yaml")
    return 0


def task_test(args: list[str]) -> int:
    """Static checks first, then pytest (its summary is the last thing printed)."""
    task_check([])
    return run(PY, "-m", "pytest", "-q", *args, check=False)


TASKS = {"demo": task_demo, "test": task_test, "check": task_check}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 dev.py {{{','.join(TASKS)}}} [args...]")
    ensure_env()
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))


if __name__ == "__main__":
    main()
