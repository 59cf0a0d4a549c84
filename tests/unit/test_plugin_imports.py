"""The pytest plugin puts the app's folder on sys.path before collection: tests can `import app`."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

APP = '''
from stepbridge import App, Context

app = App("hello")


@app.workflow("greet")
async def greet(ctx: Context, name: str) -> str:
    return await ctx.step("shout", str.upper, f"hello {name}")
'''

TEST = '''
import app as app_module  # the app module, imported at collection time with no pythonpath setting
from app import greet


def test_imports_and_fixtures(client):
    assert app_module.app.name == "hello" and callable(greet)
    assert client.start("greet", "ada").result() == "HELLO ADA"
'''


def test_a_test_module_can_import_the_app_module(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nstepbridge_app = "src/app.py:app"\n')
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "app.py").write_text(APP)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_app.py").write_text(TEST)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "tests")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and not outcomes.get("errors") and not outcomes.get("failed"), result.stdout
