"""Re-run the memory-backend probes on the moto backend (the default, and what DESIGN describes)."""

from __future__ import annotations

import inspect

import pytest

from stepbridge.local import LocalCloud as _LC

from . import test_core, test_patterns_local, test_retry_cache, test_seed

MODS = [test_core, test_retry_cache, test_seed, test_patterns_local]
CASES = []
for m in MODS:
    for n, f in inspect.getmembers(m, inspect.isfunction):
        if (
            n.startswith("test_")
            and f.__module__ == m.__name__
            and not hasattr(f, "pytestmark")
            and not inspect.signature(f).parameters
        ):
            CASES.append(pytest.param(m, f, id=f"{m.__name__.split('.')[-1]}::{n}"))


def _moto_cloud(app, **kw):
    kw["backend"] = "moto"
    return _LC(app, **kw)


@pytest.mark.parametrize("mod,fn", CASES)
def test_on_moto(mod, fn, monkeypatch):
    monkeypatch.setattr(mod, "LocalCloud", _moto_cloud)
    fn()
