"""Print the soak figures at the end of the pytest run (also without ``-s``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: Figures the soak tests recorded, as (title, lines).
REPORTS: list[tuple[str, list[str]]] = []


@pytest.fixture
def soak_report() -> Any:
    """``soak_report(title, lines)`` records figures for the terminal summary."""

    def record(title: str, lines: list[str]) -> None:
        REPORTS.append((title, lines))
        print(title, *lines, sep="\n")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for title, lines in REPORTS:
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)
