"""Exceptions as stored data and back: what a failed step, child or workflow leaves in the journal.

A recorded error is ``{"type", "message", "mro"}`` (dotted class names), plus ``args`` when the
message alone would not rebuild the exception. Every part is bounded, so an error always fits
in a journal record and on the execution header beside the largest accepted input: a message
longer than ``MAX_ERROR_MESSAGE_BYTES`` is cut (its type is kept).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from stepbridge.errors import StepFailed
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.limits import MAX_ERROR_ARGS_BYTES, MAX_ERROR_MESSAGE_BYTES

#: At most this many class names of an error's MRO are kept (deep hierarchies are cut at the top).
_MAX_MRO = 16


def bounded_text(text: str, limit: int = MAX_ERROR_MESSAGE_BYTES) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, saying how long it was; unchanged when it fits."""
    raw = text.encode(errors="replace")
    if len(raw) <= limit:
        return text
    note = f"... [truncated: the message was {len(raw):,} bytes]"
    kept = raw[: max(0, limit - len(note))].decode(errors="ignore")
    return kept + note  # at most ``limit`` bytes, so cutting again changes nothing


def bounded_error(err: dict[str, object]) -> dict[str, object]:
    """A recorded error with its message cut to the documented size (errors built outside ``error_dict``)."""
    message = err.get("message")
    if isinstance(message, str) and len(message) > MAX_ERROR_MESSAGE_BYTES // 4:
        cut = bounded_text(message)
        if cut is not message:
            return {**err, "message": cut}
    return err


def _message(exc: BaseException) -> str | None:
    """``str(exc)``, or ``None`` when the exception's own ``__str__`` raises (user code may be broken)."""
    try:
        return str(exc)
    except Exception:
        return None


def _unprintable(exc: BaseException) -> str:
    """What to record as the message of an exception whose ``__str__`` raises."""
    try:
        str(exc)
    except Exception as broken:
        return f"<{type(exc).__name__} whose __str__ raised {type(broken).__name__}>"
    return f"<{type(exc).__name__}>"


def _plain(value: object, depth: int = 0) -> bool:
    """Whether ``value`` is JSON data that comes back unchanged: scalars, lists and string-keyed dicts of them."""
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if depth >= 4:
        return False
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def error_dict(exc: BaseException) -> dict[str, object]:
    """A storable description of an exception: dotted type, message and the dotted names of its MRO.

    To rebuild the exception as its own type (see :func:`rebuild_error`) it also keeps its ``args``
    when they are not just the message, and ``state``: its instance attributes, when all of them
    are plain JSON data. Both are dropped when over ``MAX_ERROR_ARGS_BYTES``.
    """
    cls = type(exc)
    mro = [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__ if c not in (object, BaseException)][:_MAX_MRO]
    text = _message(exc)
    message = text if text is not None else _unprintable(exc)
    out: dict[str, object] = {"type": mro[0], "message": bounded_text(message), "mro": mro}
    if text is None:
        out["unprintable"] = True
    args = list(exc.args)
    if args != [text] and args and _plain(args) and _fits(args):
        out["args"] = args
    state = {k: v for k, v in getattr(exc, "__dict__", {}).items() if not k.startswith("__")}
    if state:
        if _plain(state) and _fits(state):
            out["state"] = state
        else:
            out["opaque"] = True  # attributes that cannot be stored: do not fake the type without them
    return out


def _fits(value: object) -> bool:
    return len(dumps(value).encode()) <= MAX_ERROR_ARGS_BYTES


def _loaded_class(dotted: str) -> type[Exception] | None:
    """The ``Exception`` subclass named ``module.Qual.Name``, only from a module this process already loaded.

    The security rule: a name read from the journal never causes an import (importing runs a
    module's code; the journal is data). The app's modules, what they import, and ``builtins``
    are loaded in the orchestrator and in every step function, so the app's own and its
    libraries' exception types are found; anything else comes back as ``StepFailed``.
    """
    module_name, _, qualname = dotted.rpartition(".")
    obj: object = sys.modules.get(module_name)
    if obj is None or not qualname:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, StepFailed):
        return obj
    return None


def _without_init(cls: type[Exception], args: list[object], state: dict[str, object]) -> Exception:
    """An instance built the way ``pickle`` does, minus the ``__init__`` call: ``args`` and attributes set."""
    exc = cls.__new__(cls, *args)
    exc.args = tuple(args)
    exc.__dict__.update(state)
    return exc


def rebuild_error(err: dict[str, Any], op: str) -> Exception:
    """The exception to raise in the workflow for a recorded error: the original type when it can be rebuilt.

    Rebuilt only when the class is an ``Exception`` of an already loaded module (see
    :func:`_loaded_class`) and the result prints the recorded message. Built-in types are called
    with their arguments; other classes are created without running their ``__init__`` (which
    may take other arguments, or have side effects), from the recorded ``args`` and ``state``.
    Anything else is ``StepFailed`` naming the original type.
    """
    dotted = str(err.get("type", ""))
    message = str(err.get("message", ""))
    cls = _loaded_class(dotted)
    if cls is not None:
        args = err.get("args")
        args = list(args) if isinstance(args, list) else [message] if message else []
        state = err.get("state")
        candidates: list[Callable[[], Exception]] = []
        if cls.__module__ == "builtins":
            candidates.append(lambda: cls(*args))
        elif not err.get("opaque"):
            candidates.append(lambda: _without_init(cls, args, state if isinstance(state, dict) else {}))
        for build in candidates:
            try:
                exc = build()
            except Exception:  # a __new__ that wants other arguments: fall back
                continue
            text = _message(exc)
            if text == message or (text is None and err.get("unprintable")):
                return exc
    return StepFailed(op, dotted, message)
