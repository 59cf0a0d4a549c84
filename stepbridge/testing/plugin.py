"""pytest plugin (registered through the ``pytest11`` entry point): ``cloud`` and ``client`` fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepbridge.api.app import App


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``stepbridge_app`` ini option."""
    parser.addini("stepbridge_app", "the App under test, as path/to/app.py:app or module:app", default="")


def pytest_configure(config: pytest.Config) -> None:
    """Put the app file's folder on ``sys.path`` before test modules are collected.

    That folder is the functions' code folder (SAM's CodeUri), where the app imports its sibling
    modules from, so a test module can ``import app`` (or any module beside it) as the Lambda does,
    with no ``pythonpath`` setting of its own.
    """
    spec = str(config.getini("stepbridge_app") or "")
    target = spec.partition(":")[0]
    if not target.endswith(".py"):
        return
    path = Path(target) if Path(target).is_absolute() else config.rootpath / target
    folder = str(path.parent.resolve())
    if path.is_file() and folder not in sys.path:
        sys.path.insert(0, folder)


@pytest.fixture
def stepbridge_app(request: pytest.FixtureRequest) -> App:
    """The App under test (from the ``stepbridge_app`` ini option; override this fixture to choose another)."""
    from stepbridge.testing.loader import load_app_from_spec

    spec = str(request.config.getini("stepbridge_app") or "")
    if not spec:
        pytest.fail(
            'set `stepbridge_app = "path/app.py:app"` in [tool.pytest.ini_options] or override the '
            "`stepbridge_app` fixture"
        )
    return load_app_from_spec(spec, root=request.config.rootpath)


@pytest.fixture
def cloud(stepbridge_app: App) -> Iterator[Any]:
    """A fresh LocalCloud (moto inside, virtual clock) per test."""
    from stepbridge.local import LocalCloud

    with LocalCloud(stepbridge_app) as local_cloud:
        yield local_cloud


@pytest.fixture
def client(cloud: Any) -> Any:
    """A client bound to the test's ``cloud``."""
    return cloud.client()
