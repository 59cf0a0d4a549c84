"""Exceptions as stored data and back: what a failed step, child or workflow leaves in the journal.

A recorded error is ``{"type", "message", "mro"}`` (dotted class names), plus ``args`` when the
message alone would not rebuild the exception. Every part is bounded, so an error always fits
in a journal record and on the execution header beside the largest accepted input: a message
longer than ``MAX_ERROR_MESSAGE_BYTES`` is cut (its type is kept).
"""

from __future__ import annotations

import importlib
from typing import Any

from stepbridge.errors import StepFailed
from stepbridge.runtime.limits import MAX_ERROR_MESSAGE_BYTES

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


def bounded_error(err: dict[str, Any]) -> dict[str, Any]:
    """A recorded error with its message cut to the documented size (errors built outside ``error_dict``)."""
    message = err.get("message")
    if isinstance(message, str) and len(message) > MAX_ERROR_MESSAGE_BYTES // 4:
        cut = bounded_text(message)
        if cut is not message:
            return {**err, "message": cut}
    return err


def _message(exc: BaseException) -> str:
    """``str(exc)``, or a description when the exception's own ``__str__`` raises."""
    try:
        return str(exc)
    except Exception as broken:  # user code: its __str__ may fail; the error must still be recorded
        return f"<{type(exc).__name__} whose __str__ raised {type(broken).__name__}>"


def error_dict(exc: BaseException) -> dict[str, Any]:
    """A storable description of an exception: dotted type, message and the dotted names of its MRO."""
    cls = type(exc)
    mro = [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__ if c not in (object, BaseException)][:_MAX_MRO]
    full = _message(exc)
    out: dict[str, Any] = {"type": mro[0], "message": bounded_text(full), "mro": mro}
    # When the message alone does not rebuild it (KeyError quotes its key; several arguments), keep
    # the arguments too if they are plain values.
    rebuilds = len(exc.args) <= 1 and (not exc.args or _message_of(exc.args[0]) == full)
    if not rebuilds and all(isinstance(a, str | int | float | bool) or a is None for a in exc.args):
        out["args"] = list(exc.args)
    return out


def _message_of(value: Any) -> str | None:
    try:
        return str(value)
    except Exception:
        return None


def rebuild_error(err: dict[str, Any], op: str) -> Exception:
    """The exception to raise in the workflow for a recorded error: the original type when it can be rebuilt."""
    dotted = str(err.get("type", ""))
    message = str(err.get("message", ""))
    module_name, _, qualname = dotted.rpartition(".")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, StepFailed):
            args = err.get("args")
            exc = obj(*args) if isinstance(args, list) else obj(message) if message else obj()
            if _message_of(exc) == message:
                return exc
    except Exception:  # the type moved or takes other arguments: fall back to StepFailed
        pass
    return StepFailed(op, dotted, message)
