"""Goal 6: cold start, import cost of the orchestrator handler and size of the deployment bundle.

Import times are measured inside fresh interpreters (``subprocess``; the interpreter's own
start-up is left out by timing the import statement itself), interleaved with ``import boto3``
alone, median of k. The bundle is what ``stepbridge package`` puts in the Lambda layer: the
stepbridge package without compiler/local/testing (``build_layer``) plus the installed files of
its runtime dependencies (``requirements()``, boto3 excluded since Lambda provides it), without
``__pycache__``.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from benchmarks.common import Config, Row, Section, fmt_seconds, interleave, median

ROOT = Path(__file__).resolve().parents[1]
_PROBE = """
import json, sys, time
sys.path[:0] = {paths!r}
start = time.perf_counter()
import importlib
for name in {modules!r}:
    importlib.import_module(name)
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "boto3": "boto3" in sys.modules, "botocore": "botocore" in sys.modules,
                  "pydantic": "pydantic" in sys.modules, "powertools": "aws_lambda_powertools" in sys.modules,
                  "modules": len(sys.modules)}}))
"""

#: (label, modules imported, extra sys.path entries)
PROBES: dict[str, tuple[list[str], list[str]]] = {
    "boto3": (["boto3"], []),
    "handler": (["stepbridge.handlers.orchestrator"], []),
    "handler+adapters": (
        ["stepbridge.handlers.orchestrator", "stepbridge.infra.dynamodb", "stepbridge.infra.aws", "boto3"], []),
    "handler+adapters+app": (
        ["stepbridge.handlers.orchestrator", "stepbridge.infra.dynamodb", "stepbridge.infra.aws", "boto3", "app"],
        [str(ROOT / "functions")]),
}
#: What Lambda's Python runtime ships; not part of the bundle.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}


def probe(label: str) -> dict[str, float | bool | int]:
    """Import the probe's modules in a fresh interpreter; returns its JSON report."""
    modules, paths = PROBES[label]
    script = _PROBE.format(paths=paths, modules=modules)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    report: dict[str, float | bool | int] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ (]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _marker_ok(requirement: str) -> bool:
    if ";" not in requirement:
        return True
    marker = requirement.split(";", 1)[1]
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker

        return bool(Marker(marker).evaluate())
    except Exception:
        return True


def closure(roots: list[str], exclude: set[str]) -> list[str]:
    """Installed distributions needed by ``roots`` (no extras), minus ``exclude``, sorted."""
    seen: set[str] = set()
    todo = [_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name in exclude:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo.extend(_name(r) for r in requires if _marker_ok(r))
    return sorted(seen)


def dist_bytes(name: str) -> int:
    """Bytes of an installed distribution's files, without ``__pycache__``."""
    total = 0
    for file in metadata.distribution(name).files or []:
        if "__pycache__" in file.parts or file.suffix == ".pyc":
            continue
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total


def tree_bytes(root: Path) -> int:
    """Bytes under ``root``, without ``__pycache__``."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def bundle() -> tuple[int, dict[str, int], int]:
    """(bundle bytes, bytes per part, boto3-and-deps bytes)."""
    from stepbridge.compiler.package import build_layer, requirements

    parts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="sb-bench-layer-") as tmp:
        layer, _problems = build_layer(Path(tmp) / "layer")
        parts["stepbridge (layer package)"] = tree_bytes(layer / "stepbridge")
    for dist in closure(requirements(), RUNTIME_PROVIDED):
        parts[dist] = dist_bytes(dist)
    boto = sum(dist_bytes(d) for d in closure(["boto3"], set()))
    return sum(parts.values()), parts, boto


def run(cfg: Config) -> Section:
    """Measure; see the module docstring."""
    section = Section("coldstart", "6. Cold start")
    facts = section.facts
    k = cfg.k(7)
    reports: dict[str, list[dict[str, float | bool | int]]] = {label: [] for label in PROBES}

    def runner(label: str) -> float:
        report = probe(label)
        reports[label].append(report)
        return float(report["seconds"])

    times = interleave(k, [(label, functools.partial(runner, label)) for label in PROBES])
    boto = median(times["boto3"])
    handler = median(times["handler"])
    ratio = handler / boto
    section.rows.append(
        Row("import stepbridge.handlers.orchestrator (fresh interpreter)", fmt_seconds(handler),
            f"{fmt_seconds(boto)} (import boto3 alone)", ratio, "<= 1.5x", ratio <= 1.5)
    )
    for label, what in (("handler+adapters", "handler + DynamoStore/AwsEffects adapters + boto3 (first message)"),
                        ("handler+adapters+app", "... + the example app functions/app.py")):
        value = median(times[label])
        section.rows.append(Row(what, fmt_seconds(value), f"{fmt_seconds(boto)} (import boto3 alone)",
                                value / boto, "(context)", None))
    first = reports["handler"][0]
    facts["handler_imports_boto3"] = bool(first["boto3"])
    facts["handler_imports_pydantic"] = bool(first["pydantic"])
    facts["handler_imports_powertools"] = bool(first["powertools"])
    facts["probes"] = {label: len(v) for label, v in reports.items()}
    size, parts, boto_bytes = bundle()
    facts["bundle_bytes"] = size
    mb = size / 1e6
    section.rows.append(
        Row("deployment bundle without boto3, unzipped", f"{mb:.1f} MB",
            f"{boto_bytes / 1e6:.1f} MB (boto3 + botocore + deps, provided by Lambda)", size / boto_bytes,
            "<= 20 MB", mb <= 20)
    )
    section.tables.append((
        "Bundle contents (installed files, no __pycache__)",
        ["part", "MB"],
        [[name, f"{b / 1e6:.2f}"] for name, b in sorted(parts.items(), key=lambda kv: -kv[1])],
    ))
    section.notes.append(
        f"Medians of {k} interleaved fresh interpreters. Importing the handler loads pydantic "
        f"({'yes' if first['pydantic'] else 'no'}), Powertools ({'yes' if first['powertools'] else 'no'}) and "
        f"boto3 ({'yes' if first['boto3'] else 'no'}); boto3 is imported on the first message "
        "(stepbridge.handlers.env.from_lambda_environment), so a real cold start pays the 'handler + adapters' row."
    )
    return section
