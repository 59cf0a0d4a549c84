"""Functional tests of the example app (``functions/``) on LocalCloud: moto inside, virtual clock.

Every test gets a fresh cloud and a reset ``fakes`` registry, so side effects recorded by the
fake integrations (emails, payments, shipments ...) belong to that test alone.

``cloud``/``client`` here are this directory's defaults (they override the stepbridge pytest
plugin's); a module testing its own app defines its own ``cloud`` fixture, which wins.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))

import fakes  # noqa: E402
from app import app  # noqa: E402

from stepbridge.local import LocalCloud  # noqa: E402

#: LocalCloud's clock starts here unless a test asks otherwise: Monday 5 January 2026, 08:30 UTC
#: (off the hour, so no schedule fires at the very first instant).
START = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    """A fresh LocalCloud running the example app, with the fakes reset."""
    fakes.reset()
    with LocalCloud(app, start=START) as c:
        yield c
    fakes.reset()


@pytest.fixture
def client(cloud: LocalCloud) -> Any:
    """A client of that cloud."""
    return cloud.client()
