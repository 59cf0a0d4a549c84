"""Packaging a user can trust: the layer ships only the runtime, pinned, within a size budget."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from stepbridge.compiler import lock
from stepbridge.compiler.package import LAMBDA_UNZIPPED_LIMIT_BYTES, build_layer

ROOT = Path(__file__).resolve().parents[2]
#: The layer's budget, unzipped, without byte-code: measured 35.0 MB on 2026-12-04 (0.4 MB of stepbridge,
#: 34.6 MB of pinned dependencies, boto3 and botocore 24.5 MB of it); the budget leaves ~70 % headroom and
#: stays far below Lambda's 250 MB for code plus layers, so the app's own dependencies fit beside it.
LAYER_BUDGET_BYTES = 60 * 1000 * 1000


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_local_extra_names_only_extras_moto_has() -> None:
    local = _pyproject()["project"]["optional-dependencies"]["local"]
    (moto,) = [r for r in local if r.startswith("moto[")]
    wanted = set(re.search(r"\[(.*)\]", moto)[1].split(","))  # type: ignore[index]
    provided = set(metadata.metadata("moto").get_all("Provides-Extra") or [])
    assert wanted <= provided, f"moto {metadata.version('moto')} has no extra(s) {sorted(wanted - provided)}"
    assert "awslambda" in wanted


def test_the_local_extra_is_enough_to_test_compile_and_validate() -> None:
    names = {re.split(r"[<>=\[ ]", r, maxsplit=1)[0] for r in _pyproject()["project"]["optional-dependencies"]["local"]}
    assert {"moto", "pytest", "pyyaml", "aws-sam-translator", "cfn-lint"} <= names


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, problems = build_layer(tmp_path_factory.mktemp("build") / "layer")
    assert problems == []
    return folder


def test_cli_only_modules_stay_out_of_the_layer(layer: Path) -> None:
    package = layer / "stepbridge"
    tooling = ("compiler", "local", "testing", "operator", "devconsole", "cost", "cli.py", "demo.py", "scaffold.py")
    for excluded in tooling:
        assert not (package / excluded).exists(), excluded
    for runtime in ("runtime", "handlers", "infra", "api", "client.py", "config.py"):
        assert (package / runtime).exists(), runtime


def test_the_layer_requirements_are_the_lock_pins(layer: Path) -> None:
    lines = [x for x in (layer / "requirements.txt").read_text().splitlines() if x and not x.startswith("#")]
    assert lines and all(re.fullmatch(r"[a-z0-9-]+==[\w.]+", x) for x in lines), lines
    assert {x.split("==")[0]: x.split("==")[1] for x in lines} == lock.read_lock()
    assert {"boto3", "aws-lambda-powertools", "pydantic", "pydantic-core", "jmespath"} <= set(lock.read_lock())
    assert not {"moto", "pytest", "cfn-lint", "aws-sam-translator", "pyyaml"} & set(lock.read_lock())


def test_the_lock_matches_the_installed_versions() -> None:
    assert lock.differences() == [], "run: python3 dev.py lock"


def test_the_lock_check_names_each_disagreement(tmp_path: Path) -> None:
    pins = lock.installed_closure()
    pins["pydantic"] = "0.0.1"
    del pins["jmespath"]
    pins["left-over"] = "1.0"
    stale = tmp_path / "stale.lock"
    stale.write_text(lock.render(pins))
    found = lock.differences(stale)
    assert f"pydantic: locked 0.0.1, installed {metadata.version('pydantic')}" in found
    assert f"jmespath: locked (not locked), installed {metadata.version('jmespath')}" in found
    assert "left-over: locked 1.0, installed (not needed)" in found
    assert len(found) == 3
    assert lock.main(["--check"]) == 0


def test_the_layer_fits_its_size_budget(layer: Path) -> None:
    code = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    dependencies = 0
    for name in lock.read_lock():
        dist = metadata.distribution(name)
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if "__pycache__" not in path.parts and path.is_file():
                dependencies += path.stat().st_size
    total = code + dependencies
    budget = f"{LAYER_BUDGET_BYTES / 1e6:.0f} MB"
    assert total <= LAYER_BUDGET_BYTES, f"the layer's {total / 1e6:.1f} MB are over its {budget} budget"
    assert LAYER_BUDGET_BYTES < LAMBDA_UNZIPPED_LIMIT_BYTES / 4
