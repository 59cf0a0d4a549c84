"""Testing kit for users: the pytest plugin (``cloud``/``client`` fixtures) and helpers.

Point the plugin at your app in ``pyproject.toml``::

    [tool.pytest.ini_options]
    stepbridge_app = "functions/app.py:app"

or override the ``stepbridge_app`` fixture. Then a test takes ``cloud`` (a fresh
:class:`~stepbridge.local.LocalCloud` per test) and ``client``.
"""

from stepbridge.testing.loader import load_app_from_spec

__all__ = ["load_app_from_spec"]
