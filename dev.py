#!/usr/bin/env python3
"""Bootstrap and run the project's tasks with nothing but Python 3.11+.

    python3 dev.py demo         # the seed's workflows on the local (moto) cloud
    python3 dev.py test         # lint, type-check, template and lock freshness, then the test suite
                                # (pytest-xdist: one worker per core; `python3 dev.py test -n 0` for one process)
    python3 dev.py check        # only the static checks (what `test` runs first)
    python3 dev.py lock         # re-pin the Lambda layer's requirements to the venv's versions
    python3 dev.py deploycheck  # the real AWS SAM CLI (own venv): sam validate --lint and sam build
    python3 dev.py engine-metrics  # issue 16's code numbers for stepbridge/ (Any density, long functions...)

The first run creates ``.venv`` and installs the project with its dev extras, the runtime
dependencies constrained to the layer's lock file (so the suite runs with exactly what the layer
ships); later runs reuse it and reinstall only when pyproject.toml or the lock changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".stepbridge-installed"
LOCK = ROOT / "stepbridge" / "compiler" / "layer-requirements.lock"
#: The AWS SAM CLI gets a virtualenv of its own: its pins (boto3, cfn-lint...) must not move the project's.
SAM_VENV = ROOT / ".venv-sam"
SAM_BIN = SAM_VENV / ("Scripts" if os.name == "nt" else "bin")
SAM_CLI = "aws-sam-cli==1.170.0"


def run(*cmd: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    """Run a command from the repository root, echoing it (``env``: variables added to this process's)."""
    print("+", *(f"{key}={value}" for key, value in (env or {}).items()), *(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **env} if env else None)
    if check and code != 0:
        sys.exit(code)
    return code


def ensure_env() -> None:
    """Create the virtualenv and install ``.[dev]`` when missing or when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"stepbridge needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    # The runtime dependencies at the lock's versions: the suite tests what the Lambda layer ships.
    run(PY, "-m", "pip", "install", "--quiet", "-c", LOCK, "-e", ".[dev]")
    STAMP.write_text(digest)


def task_demo(args: list[str]) -> int:
    """Run the guided tour of the example app on LocalCloud."""
    return run(BIN / "stepbridge", "demo", *args, check=False)


def task_check(args: list[str]) -> int:
    """ruff, mypy --strict, the import contracts, the committed template.yaml is what the compiler produces
    now, and the layer's lock file pins the versions installed in the venv."""
    run(BIN / "ruff", "check", "stepbridge", "functions", "tests", "benchmarks", "tools", "dev.py")
    run(BIN / "mypy", "--strict", "stepbridge")
    run(BIN / "lint-imports", "--no-cache")  # the layering contracts in pyproject.toml [tool.importlinter]
    run(BIN / "stepbridge", "compile", "functions/app.py", "--check", "-o", "template.yaml")
    run(PY, "-m", "stepbridge.compiler.lock", "--check")
    return 0


def task_lock(args: list[str]) -> int:
    """Rewrite the layer's lock from the venv (``--upgrade``: first upgrade the runtime dependencies)."""
    if "--upgrade" in args:
        runtime = ("boto3", "aws-lambda-powertools", "pydantic", "jmespath", "tzdata")
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", *runtime)
    return run(PY, "-m", "stepbridge.compiler.lock", "--write", check=False)


def _timed(label: str, *cmd: str | Path, cwd: Path) -> float:
    """Run one deploy-check command in ``cwd``; exit on failure; return its seconds."""
    print(f"+ ({cwd.name}) {' '.join(str(c) for c in cmd)}", flush=True)
    started = time.perf_counter()
    path = os.pathsep.join([str(SAM_BIN), str(BIN), os.environ.get("PATH", "")])
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": path}
    code = subprocess.call([str(c) for c in cmd], cwd=cwd, env=env)
    seconds = time.perf_counter() - started
    print(f"  {label}: exit {code} in {seconds:.1f} s", flush=True)
    if code != 0:
        sys.exit(code)
    return seconds


def _folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def task_deploycheck(args: list[str]) -> int:
    """Install the real AWS SAM CLI in .venv-sam, then ``sam validate --lint`` and ``sam build`` the
    repository's template.yaml and a freshly scaffolded ``stepbridge init`` project (docs/DEPLOY.md)."""
    started = time.perf_counter()
    sam = SAM_BIN / "sam"
    if not sam.exists():
        print(f"creating {SAM_VENV} for the AWS SAM CLI", flush=True)
        venv.EnvBuilder(with_pip=True).create(SAM_VENV)
        run(SAM_BIN / "python", "-m", "pip", "install", "--quiet", SAM_CLI)
    work = ROOT / ".stepbridge-build" / "deploycheck"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    times: dict[str, float] = {}
    times["sam --version"] = _timed("version", sam, "--version", cwd=ROOT)
    times["stepbridge package"] = _timed("layer folder", BIN / "stepbridge", "package", cwd=ROOT)
    times["repo: sam validate --lint"] = _timed(
        "validate", sam, "validate", "--lint", "--region", "us-east-1", "-t", "template.yaml", cwd=ROOT
    )
    times["repo: sam build"] = _timed(
        "build", sam, "build", "-t", "template.yaml", "--build-dir", work / "repo-build", cwd=ROOT
    )
    project = work / "newproj"
    times["stepbridge init"] = _timed("scaffold", BIN / "stepbridge", "init", project, cwd=work)
    times["newproj: stepbridge compile"] = _timed("compile", BIN / "stepbridge", "compile", cwd=project)
    times["newproj: sam validate --lint"] = _timed(
        "validate", sam, "validate", "--lint", "--region", "us-east-1", cwd=project
    )
    times["newproj: sam build"] = _timed("build", sam, "build", "--build-dir", work / "newproj-build", cwd=project)
    print("\ndeploycheck summary")
    for label, seconds in times.items():
        print(f"  {label:32s} {seconds:6.1f} s")
    for build in ("repo-build", "newproj-build"):
        layer = work / build / "StepbridgeLayer"
        if layer.is_dir():
            print(f"  {build}/StepbridgeLayer: {_folder_mb(layer):.1f} MB unzipped (Lambda's limit: 250 MB)")
    print(f"  total {time.perf_counter() - started:.1f} s")
    return 0


def task_engine_metrics(args: list[str]) -> int:
    """Print issue 16's numbers for stepbridge/ (tools/engine_metrics.py; ``--json``, ``--no-duplicates``)."""
    return run(PY, ROOT / "tools" / "engine_metrics.py", *args, check=False)


#: pytest-xdist: one worker process per CPU core (``auto``; PYTEST_XDIST_AUTO_NUM_WORKERS=N overrides it, and
#: ``python3 dev.py test -n 0`` runs in this process), each test module's tests on one worker (``loadfile``:
#: a module-scoped fixture is built once, and a module's tests run in file order as they do without xdist).
XDIST = ("-n", "auto", "--dist", "loadfile")

#: The pytest passes of ``python3 dev.py test``, in order: (name, pytest arguments, extra environment).
#: Every pass runs even when an earlier one failed; the task fails when any failed. The arguments given to
#: ``dev.py test`` (``-x``, ``-k name``, ``-n 0``, a path...) are added to every pass; a pass without paths
#: runs pyproject's ``testpaths`` (tests/) or the paths given.
PYTEST_PASSES: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
    ("suite", (), {}),
]


def task_test(args: list[str]) -> int:
    """Static checks first, then each pytest pass in parallel workers; a line per pass is printed last."""
    task_check([])
    results: list[tuple[str, int, float]] = []
    for name, paths, env in PYTEST_PASSES:
        started = time.perf_counter()
        code = run(PY, "-m", "pytest", "-q", *XDIST, *paths, *args, check=False, env=env)
        results.append((name, code, time.perf_counter() - started))
    print("\npytest passes")
    for name, code, seconds in results:
        print(f"  {name:24s} {'passed' if code == 0 else f'FAILED (exit {code})':18s} {seconds:6.1f} s")
    return next((code for _, code, _ in results if code != 0), 0)


TASKS = {
    "demo": task_demo,
    "test": task_test,
    "check": task_check,
    "lock": task_lock,
    "deploycheck": task_deploycheck,
    "engine-metrics": task_engine_metrics,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 dev.py {{{','.join(TASKS)}}} [args...]")
    ensure_env()
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))


if __name__ == "__main__":
    main()
