"""``stepbridge dev``: a local web console over LocalCloud - executions, timelines, events, clock, task inbox.

A development tool, never part of a Lambda function: the runtime, handlers, api and infra packages
may not import it (import-linter contract in pyproject.toml), and it imports LocalCloud (and so
moto, with ``--moto``) only when a session opens. Use it from Python as::

    from stepbridge.devconsole import DevSession, serve

    with DevSession(app) as session:
        server = serve(session)          # 127.0.0.1, a free port
        print(server.url)
        ...
        server.stop()

docs/CONSOLE.md describes the pages, the routes and the safety rules.
"""

from __future__ import annotations

from stepbridge.devconsole.errors import ConsoleError
from stepbridge.devconsole.server import ConsoleServer, serve
from stepbridge.devconsole.session import DevSession

__all__ = ["ConsoleError", "ConsoleServer", "DevSession", "serve"]
