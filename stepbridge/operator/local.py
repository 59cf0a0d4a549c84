"""Run an app in an in-process LocalCloud for ``stepbridge run`` and ``stepbridge events send``.

A :class:`LocalSession` starts the cloud (moto by default) and drives it the way
``LocalCloud.run_until_complete`` does - deliver everything due, then jump the virtual clock to
the next one-time timer - but stops after every jump so the caller can print what happened, send
a queued event, or decide it is done. Recurring schedules (``app.every`` / ``app.schedule``) are
switched off unless asked for: a local run of one workflow should not start the daily report.

LocalCloud (and so moto) is imported only when a session starts; this module ships in the Lambda
layer with the rest of ``stepbridge.operator`` and must not import test tooling at module level.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from stepbridge.errors import StepbridgeError
from stepbridge.runtime import keys

if TYPE_CHECKING:
    from stepbridge.api.app import App
    from stepbridge.client import Client
    from stepbridge.local.cloud import LocalCloud

#: How ``drive`` ended.
DONE, BLOCKED, LIMIT = "done", "blocked", "limit"


class AppLoadError(StepbridgeError):
    """The app file cannot be found or imported."""


def load_app(spec: str) -> App:
    """Load ``path/to/app.py[:attr]`` (or ``module:attr``) with a clear error instead of a traceback."""
    from stepbridge.testing.loader import load_app_from_spec

    target = spec.partition(":")[0]
    if target.endswith(".py"):
        # Another file of the same module name (say a second ``app.py``) imported earlier in this
        # process would be returned by the import system instead of this one: load ours.
        path = Path(target).resolve()
        previous = sys.modules.get(path.stem)
        if previous is not None and Path(getattr(previous, "__file__", "") or "").resolve() != path:
            del sys.modules[path.stem]
    try:
        return load_app_from_spec(spec)
    except FileNotFoundError as exc:
        raise AppLoadError(f"{exc}; run from the project root or pass --app path/to/app.py:app") from None
    except TypeError as exc:
        raise AppLoadError(str(exc)) from None
    except ImportError as exc:
        raise AppLoadError(f"cannot import the app {spec!r}: {type(exc).__name__}: {exc}") from None


def start_local_cloud(
    app: App, *, backend: str, schedules: bool, start: datetime | None = None
) -> LocalCloud:
    """Start a LocalCloud for an operator tool (``stepbridge run``, ``stepbridge dev``). Recurring schedules are
    cancelled unless ``schedules``: a local session should not fire the daily report unasked.
    moto is imported only here, never by the runtime."""
    from stepbridge.local import LocalCloud

    cloud = LocalCloud(app, backend=backend, start=start)
    cloud.start()
    if not schedules:
        for schedule in app.schedules:
            cloud.timers.cancel(keys.schedule_id(schedule.name))
    return cloud


class LocalSession:
    """One LocalCloud for one command, with a stepping driver."""

    def __init__(
        self, app: App, *, backend: str = "moto", schedules: bool = False, start: datetime | None = None
    ) -> None:
        self.app = app
        self.backend = backend
        self.schedules = schedules
        self.start = start
        self._cloud: LocalCloud | None = None

    def __enter__(self) -> LocalSession:
        self._cloud = start_local_cloud(self.app, backend=self.backend, schedules=self.schedules, start=self.start)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._cloud is not None:
            self._cloud.stop()
            self._cloud = None

    @property
    def cloud(self) -> LocalCloud:
        """The running cloud."""
        if self._cloud is None:
            raise RuntimeError("the local session is not started; use it as a context manager")
        return self._cloud

    def client(self) -> Client:
        """A client of the cloud."""
        return self.cloud.client()

    def now(self) -> datetime:
        """The virtual time."""
        return self.cloud.now()

    def drive(
        self,
        done: Callable[[], bool],
        *,
        limit: timedelta,
        on_idle: Callable[[], None] = lambda: None,
        before_advance: Callable[[], bool] = lambda: False,
        on_advance: Callable[[datetime], None] = lambda at: None,
    ) -> str:
        """Deliver, report, and jump the clock from timer to timer until ``done()``.

        After each idle point ``on_idle`` runs (print what is new), then ``done`` is checked, then
        ``before_advance`` may act (send a queued event: return True to deliver it before time moves).
        Returns ``"done"``, ``"blocked"`` (nothing scheduled can move it on: it waits for an event)
        or ``"limit"`` (the next timer is beyond ``limit`` of virtual time).
        """
        cloud = self.cloud
        deadline = cloud.now() + limit
        while True:
            cloud.run_until_idle()
            on_idle()
            if done():
                return DONE
            if before_advance():
                continue
            timer = cloud.timers.peek(one_time_only=True)
            if timer is None:
                return BLOCKED
            if timer.at > deadline:
                return LIMIT
            on_advance(timer.at)
            cloud.advance_to(timer.at)

    def failed_deliveries(self) -> list[dict[str, object]]:
        """Handler invocations that raised (LocalCloud kept them instead of retrying forever)."""
        return list(self.cloud.failed_deliveries)
