"""Every test function must be able to fail: it asserts, expects an exception, or calls a helper that does.

A test with no assertion passes whatever the code does (a bare ``pass`` passed here for a whole release).
This walks every test module's syntax tree; helpers are recognised by name anywhere under tests/ and docs/,
transitively (a helper that calls an asserting helper asserts too).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "tests", ROOT / "docs", ROOT / "benchmarks"]

#: Tests that delegate to code the checker cannot see statically, and why they can still fail.
DELEGATES = {
    # runs every argument-free test of four contract modules again on moto: each of those is checked here
    "tests/contract/test_moto_variants.py::test_on_moto",
}

#: Calls that make a test able to fail by themselves.
FAILING_CALLS = {"raises", "warns", "fail", "deprecated_call", "approx"}


def python_files() -> Iterator[Path]:
    for top in SOURCES:
        if top.exists():
            yield from sorted(top.rglob("*.py"))


def called_names(node: ast.AST) -> set[str]:
    """Simple and attribute names of every call under ``node`` (``f()`` -> f, ``x.check()`` -> check)."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            fn = sub.func
            if isinstance(fn, ast.Name):
                names.add(fn.id)
            elif isinstance(fn, ast.Attribute):
                names.add(fn.attr)
    return names


def asserts_itself(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.Assert) for sub in ast.walk(node)) or bool(called_names(node) & FAILING_CALLS)


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def asserting_helpers(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of functions (anywhere) that assert, directly or through another asserting function."""
    calls: dict[str, set[str]] = {}
    asserting: set[str] = set()
    for tree in trees.values():
        for fn in functions(tree):
            calls.setdefault(fn.name, set()).update(called_names(fn))
            if asserts_itself(fn):
                asserting.add(fn.name)
    changed = True
    while changed:
        changed = False
        for name, callees in calls.items():
            if name not in asserting and callees & asserting:
                asserting.add(name)
                changed = True
    return asserting


def test_every_test_function_can_fail() -> None:
    trees = {p: ast.parse(p.read_text(), filename=str(p)) for p in python_files()}
    helpers = asserting_helpers(trees)
    silent = [
        f"{path.relative_to(ROOT)}::{fn.name}"
        for path, tree in trees.items()
        if path.name.startswith("test_")
        for fn in functions(tree)
        if fn.name.startswith("test_") and not asserts_itself(fn) and not (called_names(fn) & helpers)
    ]
    silent = [name for name in silent if name not in DELEGATES]
    assert silent == [], f"test functions that assert nothing (they can never fail): {silent}"


def test_the_checker_catches_a_silent_test() -> None:
    """The check itself can fail: a bare ``pass`` test and a test calling a non-asserting helper are flagged."""
    tree = ast.parse(
        "def helper():\n    return 1\n"
        "def checks(x):\n    assert x\n"
        "def test_silent():\n    pass\n"
        "def test_calls_plain_helper():\n    helper()\n"
        "def test_calls_checker():\n    checks(helper())\n"
    )
    helpers = asserting_helpers({Path("m.py"): tree})
    flagged = [
        fn.name
        for fn in functions(tree)
        if fn.name.startswith("test_") and not asserts_itself(fn) and not (called_names(fn) & helpers)
    ]
    assert flagged == ["test_silent", "test_calls_plain_helper"]
