"""The console's errors: every failure becomes one JSON line ``{"error", "message"}`` with an HTTP status.

Exceptions from the client keep their own message; only their status is chosen here, by type for
stepbridge's own errors and by name for the human-task errors (so the console needs no import of a
module that may not exist in this version).
"""

from __future__ import annotations

from typing import Any

from stepbridge.errors import (
    ExecutionAlreadyExists,
    ExecutionNotFound,
    PayloadTooLarge,
    StepbridgeError,
    UnknownWorkflowError,
)


class ConsoleError(StepbridgeError):
    """A request the console refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (pydantic's validation errors list each field)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            parts = []
            for error in errors():
                where = ".".join(str(p) for p in error.get("loc", ())) or "value"
                parts.append(f"{where}: {error.get('msg', 'invalid')}")
            if parts:
                return "; ".join(parts)
        except Exception:  # not pydantic's shape: use the text
            pass
    return " ".join(str(exc).split()) or type(exc).__name__


_BY_NAME = (("NotFound", 404), ("Forbidden", 403), ("NotAssignee", 403), ("Conflict", 409),
            ("AlreadyCompleted", 409), ("Completed", 409), ("Closed", 409), ("AlreadyClaimed", 409))


def status_of(exc: BaseException) -> int:
    """The HTTP status an exception of a console action answers with."""
    declared = getattr(exc, "status", None)  # ConsoleError, and the task inbox's errors (TaskForbidden: 403 ...)
    if isinstance(declared, int) and not isinstance(declared, bool) and 400 <= declared < 600:
        return declared
    if isinstance(exc, ExecutionNotFound | UnknownWorkflowError):
        return 404
    if isinstance(exc, ExecutionAlreadyExists):
        return 409
    if isinstance(exc, PayloadTooLarge):
        return 413
    name = type(exc).__name__
    for suffix, status in _BY_NAME:
        if suffix in name:
            return status
    if isinstance(exc, PermissionError):
        return 403
    if isinstance(exc, StepbridgeError | ValueError | TypeError | KeyError):
        return 404 if isinstance(exc, KeyError) else 400
    return 500


def error_body(exc: BaseException) -> dict[str, Any]:
    """``{"error": type name, "message": one line}``, as the app's own HTTP API answers."""
    return {"error": type(exc).__name__, "message": one_line(exc)}
