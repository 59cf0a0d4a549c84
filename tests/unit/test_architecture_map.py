"""docs/ARCHITECTURE.md names every runtime module, so the module map never falls behind the code."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_runtime_module_is_in_the_module_map() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    runtime = ROOT / "stepbridge" / "runtime"
    modules = [p for p in runtime.rglob("*.py") if p.name != "__init__.py"]
    assert len(modules) > 40  # the glob found the runtime (a wrong root would pass vacuously)
    missing = sorted(str(p.relative_to(runtime)) for p in modules if f"`{p.name}`" not in text and p.name not in text)
    assert missing == [], f"runtime modules missing from docs/ARCHITECTURE.md's module map: {missing}"
