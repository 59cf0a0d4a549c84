"""``stepbridge dev``: load the app, open a session, serve until Ctrl-C."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from stepbridge.devconsole.server import ConsoleServer
from stepbridge.devconsole.session import DevSession
from stepbridge.errors import StepbridgeError


def run_console(
    spec: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    backend: str = "memory",
    speed: float = 0.0,
    schedules: bool = False,
    verbose: bool = False,
    out: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    start: datetime | None = None,
) -> int:
    """Serve the console for the app at ``spec`` until Ctrl-C (or ``stop`` is set); returns the exit code."""
    from stepbridge.operator.local import load_app

    app = load_app(spec)
    with DevSession(app, backend=backend, schedules=schedules, speed=speed, start=start) as session:
        try:
            server = ConsoleServer(session, host, port, quiet=not verbose)
        except OSError as exc:
            raise StepbridgeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pass --port 0 "
                                  "for a free port or stop what uses it") from None
        server.start_background()
        out(f"stepbridge dev: app '{app.name}' on LocalCloud ({backend}) at {server.url}  (Ctrl-C stops)")
        if host not in ("127.0.0.1", "localhost", "::1"):
            out(f"warning: listening on {host}: anyone who can reach this address can drive the console")
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            out("stopping")
        finally:
            server.stop()
    return 0


def parse_start(text: str) -> datetime:
    """``--start``: ``now`` (the wall clock, to the second) or an ISO-8601 instant (UTC when it names no zone)."""
    if text.strip().lower() == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise StepbridgeError(f"--start {text!r} is not an instant; use now or ISO-8601 such as 2026-01-05T08:00Z") \
            from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
