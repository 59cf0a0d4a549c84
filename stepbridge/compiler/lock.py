"""The Lambda layer's lock file: the runtime dependencies pinned to the versions the tests ran with.

``layer-requirements.lock`` (beside this module, shipped in the wheel) lists every distribution the
runtime imports in Lambda - stepbridge's own requirements without extras and all they require, boto3
included - as ``name==version``. ``stepbridge package``/``compile`` write it as the layer's
``requirements.txt``, so ``sam build`` installs exactly what the suite was run with.

boto3 is pinned too although every Lambda Python runtime ships one: the runtime's copy changes
when AWS updates it, and AWS advises packaging the SDK to control its version
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html, "Runtime-included SDK versions").
It adds about 25 MB unzipped to the layer, well inside Lambda's 250 MB limit.

``python3 dev.py lock`` rewrites the file from the current virtualenv; ``python3 dev.py check``
(and CI) fails when it disagrees with what is installed: ``python -m stepbridge.compiler.lock --check``.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

LOCK_FILE = Path(__file__).with_name("layer-requirements.lock")
#: stepbridge's runtime requirements (pyproject.toml's ``dependencies``) when it is not installed as a distribution.
_FALLBACK_ROOTS = ("boto3", "aws-lambda-powertools", "pydantic", "jmespath", "tzdata")
_HEADER = (
    "# The stepbridge Lambda layer's requirements, pinned to the versions the test suite ran with.\n"
    "# Regenerate with `python3 dev.py lock`; `python3 dev.py check` fails when this disagrees with the venv.\n"
)


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _name_of(requirement: str) -> str:
    return canonical(re.split(r"[<>=!~;\[ (]", requirement, maxsplit=1)[0].strip())


def _applies(requirement: str) -> bool:
    """The requirement is needed without extras on Linux (Lambda), whatever the marker says otherwise."""
    _, _, marker = requirement.partition(";")
    if not marker.strip():
        return True
    try:
        from packaging.markers import Marker
    except ImportError:  # pragma: no cover - packaging comes with pip and pytest
        return "extra" not in marker
    environment = {"extra": "", "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    return Marker(marker.strip()).evaluate(environment)


def _checkout_requirements() -> list[str] | None:
    """``dependencies`` of the source checkout's pyproject.toml, when this module runs from one.

    An editable install's metadata is written at install time, so after a runtime dependency is added to
    pyproject.toml it is stale until the venv is reinstalled; the checkout's file is the truth."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if not pyproject.is_file():
        return None
    import tomllib

    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    if project.get("name") != "stepbridge":
        return None
    return list(project.get("dependencies", []))


def runtime_roots() -> list[str]:
    """stepbridge's own runtime requirements (no extras), as distribution names."""
    try:
        declared = _checkout_requirements() or metadata.requires("stepbridge") or []
    except metadata.PackageNotFoundError:
        return list(_FALLBACK_ROOTS)
    return sorted({_name_of(r) for r in declared if _applies(r)})


def installed_closure() -> dict[str, str]:
    """``{name: version}`` of the runtime requirements and everything they require, as installed now."""
    found: dict[str, str] = {}
    pending = runtime_roots()
    while pending:
        name = pending.pop()
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise RuntimeError(f"runtime dependency {name} is not installed; run python3 dev.py test first") from exc
        found[name] = dist.version
        pending.extend(_name_of(r) for r in dist.requires or [] if _applies(r))
    return dict(sorted(found.items()))


def read_lock(path: Path = LOCK_FILE) -> dict[str, str]:
    """``{name: version}`` from a lock file."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = version.strip()
    return pins


def render(pins: dict[str, str]) -> str:
    """The lock file's text."""
    return _HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def write_lock(path: Path = LOCK_FILE) -> dict[str, str]:
    """Rewrite the lock from the installed versions; returns the pins."""
    pins = installed_closure()
    path.write_text(render(pins), encoding="utf-8")
    return pins


def differences(path: Path = LOCK_FILE) -> list[str]:
    """How the lock disagrees with what is installed (empty when it agrees)."""
    if not path.is_file():
        return [f"{path} is missing; run python3 dev.py lock"]
    locked, installed = read_lock(path), installed_closure()
    problems = []
    for name in sorted(set(locked) | set(installed)):
        have, pinned = installed.get(name), locked.get(name)
        if have != pinned:
            problems.append(f"{name}: locked {pinned or '(not locked)'}, installed {have or '(not needed)'}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m stepbridge.compiler.lock --write | --check``."""
    parser = argparse.ArgumentParser(prog="python -m stepbridge.compiler.lock", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the lock from the installed versions")
    mode.add_argument("--check", action="store_true", help="exit 1 when the lock disagrees with the venv")
    args = parser.parse_args(argv)
    if args.write:
        pins = write_lock()
        print(f"wrote {LOCK_FILE}: {len(pins)} pinned distributions")
        return 0
    problems = differences()
    for problem in problems:
        print(f"layer lock: {problem}", file=sys.stderr)
    if problems:
        print(f"{LOCK_FILE.name} disagrees with the venv; run python3 dev.py lock (and commit it)", file=sys.stderr)
        return 1
    print(f"{LOCK_FILE.name} matches the installed versions")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
