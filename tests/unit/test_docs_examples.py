"""The documentation cannot rot: its examples run, its excerpts match the code they quote.

* Every ```python block in docs/ whose first line is ``# doctest: run`` is executed.
* The tutorial's app (docs/tutorial_app/expense.py) runs its scenario on LocalCloud, and the
  tutorial's own tests (docs/tutorial_app/test_expense.py) pass on the memory backend and,
  through the pytest plugin's ``stepbridge_app`` ini option, on moto.
* Blocks in docs/TUTORIAL.md headed ``# docs/tutorial_app/<file>.py`` are verbatim excerpts of it.
* Blocks in docs/patterns/ headed ``# functions/<file>.py`` quote that file line by line (``...``
  marks an elision), and the workflows a page cites exist in the file it names.
* Relative links in the docs written for users point at files that exist.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from stepbridge.local import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TUTORIAL_APP = DOCS / "tutorial_app"
FUNCTIONS = ROOT / "functions"
#: Pages written by other people (their links are theirs to keep).
NOT_OURS = {"ARCHITECTURE.md", "DEPLOY.md"}
#: Link targets another page provides; allowed to be absent while it is being written.
PENDING = {"DEPLOY.md"}

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_CITE = re.compile(r"\[`(\w+\.py)`\]\(\.\./\.\./functions/\1\) — ((?:`[a-z0-9-]+`(?:, )?)+)")


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _blocks(page: Path) -> Iterator[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    for match in _BLOCK.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(1)


def _headed(prefix: str) -> list[Any]:
    """``(page, line, quoted file, body)`` for blocks whose first line is ``# {prefix}...``."""
    found = []
    for page in _pages():
        for line, code in _blocks(page):
            first, _, body = code.partition("\n")
            if first.startswith(f"# {prefix}"):
                target = first[2:].strip()
                found.append(pytest.param(page, line, target, body, id=f"{page.relative_to(DOCS)}:{line}"))
    return found


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ---- runnable snippets ------------------------------------------------------------------------------


def _runnable() -> list[Any]:
    return [
        pytest.param(code, id=f"{page.relative_to(DOCS)}:{line}")
        for page in _pages()
        for line, code in _blocks(page)
        if code.startswith("# doctest: run\n")
    ]


def test_the_docs_have_runnable_examples() -> None:
    assert len(_runnable()) >= 5


@pytest.mark.parametrize("code", _runnable())
def test_runnable_block(code: str) -> None:
    assert "assert " in code or "raises(" in code, "a runnable docs example must check what it shows"
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(code, "<docs example>", "exec"), namespace)


# ---- the tutorial ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tutorial() -> ModuleType:
    return _load(TUTORIAL_APP / "expense.py", "docs_tutorial_expense")


@pytest.fixture(scope="module")
def tutorial_tests() -> ModuleType:
    return _load(TUTORIAL_APP / "test_expense.py", "docs_tutorial_test_expense")


def test_tutorial_scenario(tutorial: ModuleType) -> None:
    """The tutorial's story: a small expense approved by the manager, a large one by both, silence rejects."""
    expense = {"id": "exp-7", "amount": 1500, "employee": "eve@example.com", "manager": "mia@example.com",
               "vp": "victor@example.com"}
    with LocalCloud(tutorial.app, backend="memory") as cloud:
        client = cloud.client()
        h = client.start("expense-approval", expense, execution_id="exp-7")
        client.send_event("Approval.decided", {"expenseId": "exp-7", "approver": "mia@example.com",
                                               "decision": "approve"})
        assert h.status == "RUNNING"  # above 1000: the VP has to decide too
        cloud.advance(timedelta(hours=49))
        assert h.result() == {"status": "rejected", "expenseId": "exp-7", "by": "victor@example.com",
                              "reason": "no decision within 48 hours"}
        sent = [e.detail_type for e in cloud.events if e.detail_type.startswith(("Expense.", "Approval.requested"))]
        assert sent == ["Expense.submitted", "Approval.requested", "Expense.rejected"]
        history = [e.detail_type for e in client.history("exp-7")]
        assert history.count("Wait.completed") == 1 and history.count("Wait.timed_out") == 1


def _tutorial_test_names() -> list[str]:
    source = (TUTORIAL_APP / "test_expense.py").read_text(encoding="utf-8")
    return re.findall(r"^def (test_\w+)\(cloud\)", source, re.MULTILINE)


def test_tutorial_has_tests() -> None:
    assert len(_tutorial_test_names()) >= 4


@pytest.mark.parametrize("name", _tutorial_test_names())
def test_tutorial_test_passes_on_memory_backend(tutorial: ModuleType, tutorial_tests: ModuleType, name: str) -> None:
    test: Callable[..., None] = getattr(tutorial_tests, name)
    assert list(inspect.signature(test).parameters) == ["cloud"]
    with LocalCloud(tutorial.app, backend="memory") as cloud:
        test(cloud)


def test_tutorial_tests_pass_through_the_pytest_plugin() -> None:
    """What the tutorial tells readers to run: the plugin's ``cloud`` fixture configured by the ini option."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "-o", "stepbridge_app=docs/tutorial_app/expense.py:app", "docs/tutorial_app/test_expense.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(_tutorial_test_names())} passed" in proc.stdout


@pytest.mark.parametrize(("page", "line", "target", "body"), _headed("docs/tutorial_app/"))
def test_tutorial_excerpt_is_verbatim(page: Path, line: int, target: str, body: str) -> None:
    source = (ROOT / target).read_text(encoding="utf-8")
    assert body in source, f"{page.name}:{line}: the block is not a verbatim excerpt of {target}"


def test_tutorial_quotes_its_app() -> None:
    targets = {p.values[2] for p in _headed("docs/tutorial_app/")}
    assert targets == {"docs/tutorial_app/expense.py", "docs/tutorial_app/test_expense.py",
                       "docs/tutorial_app/inspect_stack.py"}


def test_inspect_script_reports_an_execution(tutorial: ModuleType) -> None:
    inspect_stack = _load(TUTORIAL_APP / "inspect_stack.py", "docs_tutorial_inspect_stack")
    expense = {"id": "exp-1", "amount": 400, "employee": "e@example.com", "manager": "m@example.com",
               "vp": "v@example.com"}
    with LocalCloud(tutorial.app, backend="memory") as cloud:
        client = cloud.client()
        client.start("expense-approval", expense, execution_id="exp-1")
        client.send_event("Approval.decided", {"expenseId": "exp-1", "approver": "m@example.com",
                                               "decision": "approve"})
        text = inspect_stack.report(client, "exp-1")
    assert text.splitlines()[0] == "exp-1 (expense-approval): SUCCEEDED"
    assert "Wait.completed  wait:Approval.decided" in text and "Step.completed  pay" in text


# ---- pattern pages --------------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "line", "target", "body"), _headed("functions/"))
def test_pattern_excerpt_quotes_functions(page: Path, line: int, target: str, body: str) -> None:
    path = ROOT / target
    assert path.is_file(), f"{page.name}:{line}: {target} does not exist"
    lines = {ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()}
    missing = [ln for ln in body.splitlines() if ln.strip() and ln.strip() not in ("...", "# ...")
               and ln.strip() not in lines]
    assert not missing, f"{page.name}:{line}: not in {target}: {missing}"


def _citations() -> list[Any]:
    found = []
    for page in sorted((DOCS / "patterns").glob("*.md")):
        for match in _CITE.finditer(page.read_text(encoding="utf-8")):
            names = re.findall(r"`([a-z0-9-]+)`", match.group(2))
            found.append(pytest.param(match.group(1), names, id=f"{page.name}:{match.group(1)}"))
    return found


def test_every_pattern_page_cites_functions() -> None:
    pages = {p.name for p in (DOCS / "patterns").glob("*.md")} - {"README.md"}
    citing = {p.name for p in (DOCS / "patterns").glob("*.md") if _CITE.search(p.read_text(encoding="utf-8"))}
    assert len(pages) >= 12
    assert pages - citing <= {"testing.md"}


@pytest.mark.parametrize(("filename", "names"), _citations())
def test_cited_workflows_exist(filename: str, names: list[str]) -> None:
    source = (FUNCTIONS / filename).read_text(encoding="utf-8")
    for name in names:
        assert f'"{name}"' in source, f"functions/{filename} has no workflow, schedule or step named {name!r}"


# ---- links ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", [p for p in _pages() if p.name not in NOT_OURS], ids=lambda p: str(p.relative_to(DOCS))
)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        if not path.exists():
            if path.name not in PENDING:
                broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert not broken, f"{page.relative_to(DOCS)} has broken links: {broken}"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
