"""``stepbridge package``: the Lambda layer folder with the stepbridge runtime.

The template's ``StepbridgeLayer`` points at this folder (``ContentUri``) with ``BuildMethod`` =
the app's runtime (``App(runtime=...)``, python3.12 by default), so ``sam build`` copies the
``stepbridge`` package and pip-installs ``requirements.txt`` for the app's architecture into the
layer's ``python/`` directory. ``requirements.txt`` is the lock file (:mod:`stepbridge.compiler.lock`):
every runtime dependency, boto3 included, pinned to the version the test suite ran with. What never
ships: the compiler, the local cloud, the pytest plugin, the CLI and its operator console, the local web
console (``stepbridge dev``), the demo and the project scaffold - and so none of moto, cfn-lint,
aws-sam-translator, PyYAML or pytest.
"""

from __future__ import annotations

import ast
import re
import shutil
from importlib import metadata
from pathlib import Path

import stepbridge

#: Parts of the stepbridge package that are build/test tooling, never runtime.
EXCLUDED = ("compiler", "local", "testing", "operator", "devconsole", "cost", "cli.py", "demo.py", "scaffold.py")
#: Lambda's limit on a function's unzipped code plus all its layers: 250 MB
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, "Deployment package size").
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
#: Modules the runtime must not import at module level (they are not in the layer).
FORBIDDEN_IMPORTS = (
    "moto",
    "cfnlint",
    "samtranslator",
    "yaml",
    "pytest",
    "stepbridge.compiler",
    "stepbridge.local",
    "stepbridge.testing",
    "stepbridge.cli",
    "stepbridge.operator",
    "stepbridge.devconsole",
    "stepbridge.demo",
    "stepbridge.scaffold",
)
#: Provided by the Lambda Python runtime.
_RUNTIME_PROVIDED = {"boto3", "botocore"}
#: Used when stepbridge is not installed as a distribution (pyproject.toml's dependencies).
_FALLBACK_REQUIREMENTS = ("aws-lambda-powertools>=3.0", "pydantic>=2.6", "jmespath>=1.0")


def requirements() -> list[str]:
    """stepbridge's runtime dependencies (no extras, minus what Lambda provides), sorted."""
    try:
        declared = metadata.requires("stepbridge") or []
    except metadata.PackageNotFoundError:
        declared = list(_FALLBACK_REQUIREMENTS)
    out = []
    for req in declared:
        if "extra ==" in req.replace('"', "'").replace("extra==", "extra =="):
            continue
        name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower()
        if name and name not in _RUNTIME_PROVIDED:
            out.append(req.split(";")[0].strip())
    return sorted(out)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.lineno, node.module))
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return found


def check_runtime_imports(package_dir: Path) -> list[str]:
    """Problems: runtime modules importing, at module level, something the layer does not contain."""
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            problems.append(f"{path}: syntax error: {exc}")
            continue
        for lineno, module in _module_level_imports(tree):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_IMPORTS):
                rel = path.relative_to(package_dir.parent).as_posix()
                problems.append(f"{rel}:{lineno} imports {module} at module level; it is not in the Lambda layer")
    return problems


def _ignore(src: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
    if Path(src).resolve() == Path(stepbridge.__file__).resolve().parent:
        ignored |= {n for n in names if n in EXCLUDED}
    return ignored


def build_layer(dest: str | Path) -> tuple[Path, list[str]]:
    """(Re)write the layer folder at ``dest``; return it and any runtime-import problems found."""
    out = Path(dest)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    source = Path(stepbridge.__file__).resolve().parent
    shutil.copytree(source, out / "stepbridge", ignore=_ignore)
    (out / "requirements.txt").write_text(layer_requirements(), encoding="utf-8")
    return out, check_runtime_imports(out / "stepbridge")


def layer_requirements() -> str:
    """The layer's ``requirements.txt``: the lock's pins (or, without a lock, the declared ranges)."""
    from stepbridge.compiler.lock import LOCK_FILE, read_lock

    header = "# Runtime dependencies of stepbridge, written by `stepbridge package` from {}.\n"
    if LOCK_FILE.is_file():
        pins = read_lock(LOCK_FILE)
        return header.format(LOCK_FILE.name) + "".join(f"{n}=={v}\n" for n, v in sorted(pins.items()))
    ranges = ["boto3>=1.34", *requirements()]
    return header.format("pyproject.toml (no lock file found)") + "".join(f"{r}\n" for r in ranges)
