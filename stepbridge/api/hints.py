"""Type hints of workflow and step functions, resolved where the functions were written.

With ``from __future__ import annotations`` every hint is a string, resolved later against the
function's module. A model defined inside a function (a test, a factory) is not there, and
``typing.get_type_hints`` fails. The decorators remember the namespace of the scope they were
applied in, and resolution also looks at the function's closure, so such hints still resolve
to the real types (and inputs are validated by them) instead of silently becoming ``Any``.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import typing
import weakref
from collections.abc import Callable

#: The namespace of the scope each decorated function was defined in.
_SCOPES: weakref.WeakKeyDictionary[Callable[..., object], dict[str, object]] = weakref.WeakKeyDictionary()
#: Hints resolved so far (successes only).
_RESOLVED: weakref.WeakKeyDictionary[Callable[..., object], dict[str, object]] = weakref.WeakKeyDictionary()


def remember_scope(fn: Callable[..., object], depth: int = 1) -> None:
    """Remember the locals of the frame ``depth`` levels above the caller (the decorated function's scope)."""
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:  # not that many frames: nothing to remember
        return
    if frame.f_locals is not frame.f_globals:  # a module-level definition resolves against its module anyway
        # (a callable that cannot be weakly referenced, a builtin, has no string hints anyway)
        with contextlib.suppress(TypeError):
            _SCOPES[fn] = frame.f_locals


def type_hints(fn: Callable[..., object]) -> dict[str, object]:
    """``typing.get_type_hints(fn)`` that also sees the defining scope and closure; ``{}`` when unresolvable.

    Resolved hints are kept per function; a failure is not, so a hint naming a class defined after
    the function resolves once that class exists.
    """
    weak = _weakrefable(fn)
    if weak and fn in _RESOLVED:
        return _RESOLVED[fn]
    localns: dict[str, object] = {}
    with contextlib.suppress(TypeError, ValueError):  # not a plain function (a callable object, a builtin)
        localns.update(inspect.getclosurevars(fn).nonlocals)
    localns.update(_SCOPES.get(fn, {}) if weak else {})
    try:
        hints = typing.get_type_hints(fn, localns=localns or None)
    except Exception:  # a name defined nowhere we can see (e.g. imported only under TYPE_CHECKING)
        return {}
    if weak:
        _RESOLVED[fn] = hints
    return hints


def _weakrefable(fn: Callable[..., object]) -> bool:
    try:
        weakref.ref(fn)
    except TypeError:
        return False
    return True
