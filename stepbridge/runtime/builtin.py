"""Built-in workflows the engine runs besides the app's own, found by name.

A large ``ctx.map`` runs its child batches as a built-in workflow (runtime/batchslice.py). The module that
defines one registers its lookup here on import, so ``engine`` and ``children`` find it without importing
the batch modules, which import ``children`` themselves (that would be an import cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stepbridge.api.app import App, WorkflowDef

#: ``lookup(app, name)``: the built-in workflow called ``name``, or ``None``.
Lookup = Callable[["App", str], "WorkflowDef | None"]
_LOOKUPS: list[Lookup] = []


def register(lookup: Lookup) -> Lookup:
    """Add a lookup of built-in workflows (used as a decorator by the module that defines them)."""
    _LOOKUPS.append(lookup)
    return lookup


def builtin_workflow(app: App, name: str) -> WorkflowDef | None:
    """The built-in workflow ``name`` (``None`` when no registered lookup knows it)."""
    for lookup in _LOOKUPS:
        wf = lookup(app, name)
        if wf is not None:
            return wf
    return None
