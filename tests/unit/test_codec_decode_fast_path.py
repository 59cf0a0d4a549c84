"""Decoding a value whose type is exactly its scalar annotation (``int`` for ``-> int``) skips pydantic
(runtime/codec.py ``_typed``): the value that comes back is the one pydantic gives back (the same object),
every other value still goes through pydantic, and a process that only decodes such values never builds
a ``TypeAdapter`` (the ~30 ms first-use cost the cost benchmark's inline step paid, issue 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pydantic
import pytest

from stepbridge.runtime import codec

EXACT: list[tuple[type, Any]] = [
    (int, 0), (int, -7), (int, 2**100), (float, 1.5), (float, -0.0), (float, float("inf")), (float, float("nan")),
    (str, ""), (str, "näive ☃ 𝄞"), (str, "\ud800"), (bool, True), (bool, False),
]
#: Not the exact type of the annotation: pydantic converts, rejects or keeps them as before.
CONVERTED: list[tuple[type, Any]] = [
    (int, "5"), (int, 5.0), (int, True), (float, 1), (float, "2.5"), (bool, 1), (bool, "yes"), (str, b"bytes"),
]


@pytest.mark.parametrize(("tp", "value"), EXACT, ids=repr)
def test_an_exact_scalar_comes_back_as_pydantic_gives_it_back(tp: type, value: Any) -> None:
    from_pydantic = pydantic.TypeAdapter(tp).validate_python(value)
    assert from_pydantic is value  # what the fast path relies on
    assert codec.from_json_value(value, tp) is value
    assert codec.validate_input(value, tp) is value


@pytest.mark.parametrize(("tp", "value"), CONVERTED, ids=repr)
def test_other_values_are_still_validated_by_pydantic(tp: type, value: Any) -> None:
    expected = pydantic.TypeAdapter(tp).validate_python(value)
    got = codec.from_json_value(value, tp)
    assert (type(got), got) == (type(expected), expected)


def test_a_wrong_type_is_still_rejected() -> None:
    with pytest.raises(pydantic.ValidationError):
        codec.validate_input("not a number", int)
    with pytest.raises(pydantic.ValidationError):
        codec.validate_input([1], str)


def test_an_execution_of_scalar_steps_never_builds_a_type_adapter() -> None:
    """In a fresh process (other tests build adapters): typed input, typed step results, in LocalCloud."""
    script = textwrap.dedent("""
        import json, sys
        from stepbridge import App
        from stepbridge.local import LocalCloud

        app = App("fast")

        def inc(x: int) -> int:
            return x + 1

        def shout(s: str) -> str:
            return s.upper()

        @app.workflow("seq")
        async def seq(ctx, n: int) -> str:
            x = 0
            for i in range(n):
                x = await ctx.step(f"s{i}", inc, x)
            return await ctx.step("w", shout, f"ok{x}")

        with LocalCloud(app, backend="memory") as cloud:
            result = cloud.client().start("seq", 5).result()
        print(json.dumps({"result": result, "adapter": "pydantic.type_adapter" in sys.modules}))
    """)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                         check=True, cwd=root)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"result": "OK5", "adapter": False}
