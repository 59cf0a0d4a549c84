"""The numbers issue 16 (engine v2) is judged by, measured on stepbridge/: ``python3 dev.py engine-metrics``.

Prints the ``Any`` density, the runtime functions over 60 lines, the ``.kind/.type/.reason/.status``
comparisons, the function-local imports, the ``duplicates`` pairs (when that command is installed) and the
modules over 600 lines. Only the standard library, so it runs before the virtualenv exists.
Baseline at main d91800b: /work/notes/baseline16.md (36.3 Any per 1,000 lines, 7 long runtime functions,
112 comparisons, 150 local imports counted per enclosing def, 25 duplicates pairs).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stepbridge"
#: Issue 16's quality bars.
FUNCTION_LIMIT = 60
MODULE_LIMIT = 600
ANY_LIMIT_PER_KLOC = 20.0

_ANY = re.compile(r"\bAny\b")
#: The review's grep: ``grep -rnE '\.(kind|type|reason|status) *(==|!=|in) '`` (lines, not matches).
_COMPARISON = re.compile(r"\.(kind|type|reason|status) *(==|!=|in) ")
#: The same comparisons made against string literals (``== "result"``, ``in ("a", "b")``): finding 1 proper.
_LITERAL_COMPARISON = re.compile(r"\.(kind|type|reason|status) *(?:==|!=|in) +[\(\[{]? *[\"']")
_DUPLICATES_HEAD = re.compile(r"^(\d+) pairs?\b.*?(?:\((\d+) by shape alone, (\d+) of those marked boilerplate\))?$")

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Metrics:
    """One measurement of a source tree."""

    lines: int = 0
    any_count: int = 0
    comparisons: int = 0
    literal_comparisons: int = 0
    local_imports: int = 0
    #: Each import counted once per enclosing def (an import in a nested def counts twice): the baseline's method.
    local_imports_per_def: int = 0
    long_runtime_functions: list[tuple[str, int]] = field(default_factory=list)
    big_modules: list[tuple[str, int]] = field(default_factory=list)
    runtime_modules: int = 0
    runtime_lines: int = 0
    duplicates: dict[str, int] | None = None

    @property
    def any_per_kloc(self) -> float:
        return 1000 * self.any_count / self.lines if self.lines else 0.0


def count_any(text: str) -> int:
    """Occurrences of the word ``Any`` (annotations, imports, comments alike, as the review counted)."""
    return len(_ANY.findall(text))


def count_comparisons(text: str) -> int:
    """Lines comparing ``.kind``, ``.type``, ``.reason`` or ``.status`` with ``==``, ``!=`` or ``in``."""
    return sum(1 for line in text.splitlines() if _COMPARISON.search(line))


def count_literal_comparisons(text: str) -> int:
    """Lines comparing ``.kind/.type/.reason/.status`` with a string literal (or a tuple/set/list of them)."""
    return sum(1 for line in text.splitlines() if _LITERAL_COMPARISON.search(line))


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, FunctionNode]]:
    """Every function with its dotted name (``Class.method``, ``outer.inner``)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}{node.name}", node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def long_functions(source: str, limit: int = FUNCTION_LIMIT) -> list[tuple[str, int]]:
    """Functions longer than ``limit`` lines (``def`` line to last line, decorators not counted), longest first."""
    found = []
    for name, node in _functions(ast.parse(source)):
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > limit:
            found.append((name, length))
    return sorted(found, key=lambda item: (-item[1], item[0]))


def local_imports(source: str) -> tuple[int, int]:
    """Import statements inside a function: (statements, statements counted once per enclosing def)."""
    tree = ast.parse(source)
    statements = 0

    def visit(node: ast.AST, inside: bool) -> None:
        nonlocal statements
        for child in ast.iter_child_nodes(node):
            if inside and isinstance(child, ast.Import | ast.ImportFrom):
                statements += 1
            visit(child, inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    per_def = sum(
        isinstance(sub, ast.Import | ast.ImportFrom)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for sub in ast.walk(node)
    )
    return statements, per_def


def parse_duplicates(output: str) -> dict[str, int] | None:
    """The counts in the first line of ``duplicates``' report (``pairs``, ``shape``, ``boilerplate``)."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    if first.startswith("no duplicates"):
        return {"pairs": 0, "shape": 0, "boilerplate": 0}
    match = _DUPLICATES_HEAD.match(first)
    if match is None:
        return None
    pairs, shape, boilerplate = match.groups()
    return {"pairs": int(pairs), "shape": int(shape or 0), "boilerplate": int(boilerplate or 0)}


def run_duplicates(package: Path) -> dict[str, int] | None:
    """``duplicates --repo <package> --most 100`` when the command exists, else ``None``."""
    command = shutil.which("duplicates")
    if command is None:
        return None
    done = subprocess.run(
        [command, "--repo", str(package), "--most", "100"], capture_output=True, text=True, check=False, timeout=120
    )
    return parse_duplicates(done.stdout)


def measure(package: Path = PACKAGE, *, with_duplicates: bool = True) -> Metrics:
    """Every number of issue 16 for the Python files under ``package``."""
    metrics = Metrics()
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(package.parent).as_posix()
        lines = len(text.splitlines())
        metrics.lines += lines
        metrics.any_count += count_any(text)
        metrics.comparisons += count_comparisons(text)
        metrics.literal_comparisons += count_literal_comparisons(text)
        statements, per_def = local_imports(text)
        metrics.local_imports += statements
        metrics.local_imports_per_def += per_def
        if lines > MODULE_LIMIT:
            metrics.big_modules.append((rel, lines))
        if path.is_relative_to(package / "runtime"):  # runtime/ and its subpackages (runtime/operations/ ...)
            metrics.runtime_lines += lines
            metrics.runtime_modules += path.name != "__init__.py"
            module = ".".join(path.relative_to(package / "runtime").with_suffix("").parts)
            metrics.long_runtime_functions += [(f"{module}.{name}", n) for name, n in long_functions(text)]
    metrics.long_runtime_functions.sort(key=lambda item: (-item[1], item[0]))
    metrics.big_modules.sort(key=lambda item: -item[1])
    if with_duplicates:
        metrics.duplicates = run_duplicates(package)
    return metrics


def report(m: Metrics) -> str:
    """The human-readable report."""
    long = ", ".join(f"{name} {n}" for name, n in m.long_runtime_functions) or "none"
    big = ", ".join(f"{name} {n}" for name, n in m.big_modules) or "none"
    if m.duplicates is None:
        dup = "not measured (--no-duplicates, or the `duplicates` command is missing)"
    else:
        dup = (
            f"{m.duplicates['pairs']} pairs ({m.duplicates['shape']} by shape, "
            f"{m.duplicates['boilerplate']} boilerplate)"
        )
    bar = "at or under the bar" if m.any_per_kloc <= ANY_LIMIT_PER_KLOC else f"over the bar of {ANY_LIMIT_PER_KLOC:g}"
    return "\n".join(
        [
            f"stepbridge/ lines: {m.lines:,}",
            f"Any: {m.any_count} occurrences -> {m.any_per_kloc:.1f} per 1,000 lines ({bar})",
            f"runtime functions > {FUNCTION_LIMIT} lines: {len(m.long_runtime_functions)} ({long})",
            f".kind/.type/.reason/.status ==|!=|in comparisons (lines): {m.comparisons}, "
            f"{m.literal_comparisons} of them against string literals",
            f"function-local imports: {m.local_imports} statements "
            f"({m.local_imports_per_def} counted once per enclosing def, the baseline's method)",
            f"duplicates --repo stepbridge: {dup}",
            f"modules > {MODULE_LIMIT} lines: {len(m.big_modules)} ({big})",
            f"runtime: {m.runtime_modules} modules, {m.runtime_lines:,} lines",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.py engine-metrics", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--no-duplicates", action="store_true", help="skip the `duplicates` run")
    parser.add_argument("--package", type=Path, default=PACKAGE, help="the package folder (default: stepbridge/)")
    args = parser.parse_args(argv)
    metrics = measure(args.package, with_duplicates=not args.no_duplicates)
    if args.json:
        print(json.dumps({**asdict(metrics), "any_per_kloc": round(metrics.any_per_kloc, 1)}, indent=1))
    else:
        print(report(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
