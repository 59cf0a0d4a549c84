"""Print the soak figures at the end of the pytest run (also without ``-s``, and under pytest-xdist).

The figures travel in each test's report (``user_properties``): under xdist the tests run in worker processes
and the summary is written by the controller, which loads only tests/conftest.py (which prints them)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def soak_report(request: pytest.FixtureRequest) -> Any:
    """``soak_report(title, lines)`` records figures for the terminal summary (tests/conftest.py prints them)."""

    def record(title: str, lines: list[str]) -> None:
        request.node.user_properties.append(("terminal_summary", (title, list(lines))))
        print(title, *lines, sep="\n")

    return record
