"""Print the soak figures at the end of the pytest run (also without ``-s``, and under pytest-xdist).

The figures travel in each test's report (``user_properties``), so the summary also has them when the tests
ran in xdist workers and the terminal summary is written by the controller process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: The ``user_properties`` key of a soak test's figures: (title, lines).
PROPERTY = "soak_report"


@pytest.fixture
def soak_report(request: pytest.FixtureRequest) -> Any:
    """``soak_report(title, lines)`` records figures for the terminal summary."""

    def record(title: str, lines: list[str]) -> None:
        request.node.user_properties.append((PROPERTY, (title, list(lines))))
        print(title, *lines, sep="\n")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for kind in ("passed", "failed"):
        for report in terminalreporter.stats.get(kind, []):
            if getattr(report, "when", None) != "call":
                continue
            for key, value in report.user_properties:
                if key != PROPERTY:
                    continue
                title, lines = value
                terminalreporter.section(title)
                for line in lines:
                    terminalreporter.write_line(line)
