"""Anchor: DBOS Transact on SQLite, the same 5-step workflow as ``benchmarks.workflows`` "five".

``@DBOS.workflow`` / ``@DBOS.step``; the system database is a SQLite file in a temporary
directory (DBOS checkpoints every step there). Executions are started concurrently with
``DBOS.start_workflow`` (DBOS runs each on a thread) and then awaited.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from typing import Any

PIP = "pip install dbos"


def available() -> bool:
    """Whether DBOS Transact is installed."""
    return importlib.util.find_spec("dbos") is not None


class DbosAnchor:
    """DBOS launched on a SQLite file; ``with DbosAnchor(path) as d: d.run(n)``."""

    def __init__(self, sqlite_path: str) -> None:
        self.sqlite_path = sqlite_path
        self._five: Any = None

    def __enter__(self) -> DbosAnchor:
        from dbos import DBOS, DBOSConfig

        logging.getLogger("dbos").setLevel(logging.WARNING)

        @DBOS.step(name="bench_add")
        def bench_add(x: int, y: int) -> int:
            return x + y

        @DBOS.workflow(name="bench_five")
        def bench_five(x: int) -> int:
            for i in range(5):
                x = bench_add(x, i)
            return x

        self._five = bench_five
        config: DBOSConfig = {
            "name": "stepbridge-bench",
            "system_database_url": f"sqlite:///{self.sqlite_path}",
            "log_level": "WARNING",
        }
        DBOS(config=config)
        DBOS.launch()
        return self

    def __exit__(self, *exc: object) -> None:
        from dbos import DBOS

        DBOS.destroy(destroy_registry=True)

    def run(self, n: int) -> tuple[float, int]:
        """Start ``n`` executions concurrently, wait for all; returns (seconds, executions with the right result)."""
        from dbos import DBOS

        start = time.perf_counter()
        handles = [DBOS.start_workflow(self._five, i) for i in range(n)]
        results = [h.get_result() for h in handles]
        elapsed = time.perf_counter() - start
        ok = sum(1 for i, r in enumerate(results) if r == i + 10)
        return elapsed, ok
