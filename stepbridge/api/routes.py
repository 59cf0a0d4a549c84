"""The HTTP API's built-in routes: one table that the API handler routes by and the compiler declares.

Each entry is ``(SAM event id, method, path)`` with API Gateway's ``{param}`` placeholders. The
handler turns a path into Powertools' ``<param>`` form with :func:`powertools_path`; the compiler
emits one ``HttpApi`` event per entry, and rejects webhook paths that clash with them.
"""

from __future__ import annotations

import re

#: ``(SAM event id, method, path)`` of every built-in route (DESIGN.md, "HTTP API").
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("StartExecution", "POST", "/workflows/{name}/executions"),
    ("DescribeExecution", "GET", "/executions/{id}"),
    ("SendEvent", "POST", "/events"),
    ("CancelExecution", "POST", "/executions/{id}/cancel"),
    # the task inbox (handlers/taskroutes.py)
    ("ListTasks", "GET", "/tasks"),
    ("DescribeTask", "GET", "/tasks/{id}"),
    ("ClaimTask", "POST", "/tasks/{id}/claim"),
    ("CompleteTask", "POST", "/tasks/{id}/complete"),
    ("ReleaseTask", "POST", "/tasks/{id}/release"),
    ("ReassignTask", "POST", "/tasks/{id}/reassign"),
)


def powertools_path(path: str) -> str:
    """``/executions/{id}`` -> ``/executions/<id>`` (Powertools' route syntax)."""
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


def path_regex(path: str) -> re.Pattern[str]:
    """A regex matching concrete request paths of a route (one segment per placeholder)."""
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")


__all__ = ["ROUTES", "path_regex", "powertools_path"]
