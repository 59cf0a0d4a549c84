"""The step names an app can run, read from its source: ``LocalCloud.mock_step`` rejects a typo.

A ``ctx.step`` name is often built at run time (``f"send-{r.id}"``), so the names are read from the
source of the modules that hold the app's workflows (and their sibling modules, where helpers
live): every string literal and f-string passed to ``ctx.step``, ``ctx.map``, ``ctx.poll``,
``breaker.call`` and the like. An f-string becomes a pattern (``send-…``); a literal also covers
the names derived from it (``send-0`` of ``ctx.map("send", ...)``, ``charge:breaker``). When a
module's source cannot be read, every name is accepted rather than a correct one refused.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stepbridge.api.app import App, kebab

#: Context and pattern methods whose string arguments name steps.
_STEP_CALLS = frozenset({"step", "map", "poll", "call", "wait_for_callback", "callback", "task"})
_DERIVED = r"(?:[-:#.].*)?"


@dataclass
class StepNames:
    """Names and name patterns found; ``complete`` is False when some source could not be read."""

    names: set[str] = field(default_factory=set)
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    complete: bool = True

    def knows(self, name: str) -> bool:
        """``name`` may be a step of the app."""
        if not self.complete or name in self.names:
            return True
        if any(re.fullmatch(re.escape(known) + _DERIVED, name) for known in self.names):
            return True
        return any(p.fullmatch(name) for p in self.patterns.values())

    def describe(self, limit: int = 40) -> str:
        """The known names for an error message (patterns shown with … for their run-time parts)."""
        shown = sorted(self.names) + sorted(self.patterns)
        text = ", ".join(repr(n) for n in shown[:limit])
        return text + (f" and {len(shown) - limit} more" if len(shown) > limit else "")


def _literal(node: ast.expr, found: StepNames) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        found.names.add(node.value)
    elif isinstance(node, ast.JoinedStr):
        shown, regex = "", ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                shown += str(part.value)
                regex += re.escape(str(part.value))
            else:
                shown += "…"
                regex += ".+"
        found.patterns[shown] = re.compile(regex + _DERIVED)


def _scan(source: str, found: StepNames) -> None:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _STEP_CALLS:
            for arg in node.args[:2]:
                _literal(arg, found)
            for keyword in node.keywords:
                if keyword.arg == "name":
                    _literal(keyword.value, found)


def known_step_names(app: App) -> StepNames:
    """Every step name ``app`` can run, as far as its source tells."""
    found = StepNames()
    for step in app.steps.values():
        found.names.add(step.name)
    folders: set[Path] = set()
    for workflow in app.workflows.values():
        source_file = inspect.getsourcefile(inspect.unwrap(workflow.fn))
        if source_file is None:
            found.complete = False
            continue
        folders.add(Path(source_file).resolve().parent)
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not file.endswith(".py") or Path(file).resolve().parent not in folders:
            continue
        try:
            _scan(Path(file).read_text(encoding="utf-8"), found)
        except (OSError, SyntaxError, ValueError):
            found.complete = False
    return found


def check_mockable(app: App, name: str) -> None:
    """Raise ``ValueError`` naming the known steps when ``name`` cannot be one of ``app``'s steps."""
    known = known_step_names(app)
    if known.knows(name) or known.knows(kebab(name)):
        return
    raise ValueError(
        f"mock_step({name!r}): app '{app.name}' has no step of that name, so the mock would never run; "
        f"known steps: {known.describe()}"
    )
