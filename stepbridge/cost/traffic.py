"""The ``traffic.yaml`` schema of ``stepbridge cost``, validated with pydantic.

::

    region: us-east-1            # optional; --region overrides it
    defaults:                    # optional, for every workflow
      payload_kb: 1              # size of inputs, step results and events (KB)
      step_duration_ms: 20       # time your step code runs (ms), per attempt
    workflows:
      order:                     # a workflow name of the app
        executions: 100000       # per month
        payload_kb: 2            # optional, overrides defaults
        steps:                   # optional, by the step's name (first argument of ctx.step)
          charge-card: 0.9       # runs in 90% of the places it is reached (a probability)
          ship: {probability: 0.9, duration_ms: 300, attempts: 1.05}
        branches:                # optional, by the `if` test as written in the source
          "order.express": 0.2   # probability that the `if` body runs (else: 1 - p)
        loops:                   # optional, by the loop head as `stepbridge graph` prints it
          "for item in order.items": 3
        items:                   # items of a ctx.map (by its name) or of a gather over a comprehension
          resize: 10             # (by the step name inside it); required for every ctx.map
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stepbridge.errors import StepbridgeError


class StepTraffic(BaseModel):
    """How often and how long one step runs."""

    model_config = ConfigDict(extra="forbid")

    probability: float | None = Field(default=None, ge=0, le=1)
    duration_ms: float | None = Field(default=None, ge=0)
    attempts: float = Field(default=1.0, ge=1)


class Defaults(BaseModel):
    """Values every workflow gets unless it sets its own."""

    model_config = ConfigDict(extra="forbid")

    payload_kb: float = Field(default=1.0, ge=0, le=256 * 1024)
    step_duration_ms: float = Field(default=20.0, ge=0)


class WorkflowTraffic(BaseModel):
    """One workflow's monthly traffic and the shape of its paths."""

    model_config = ConfigDict(extra="forbid")

    executions: float = Field(ge=0)
    payload_kb: float | None = Field(default=None, ge=0, le=256 * 1024)
    steps: dict[str, StepTraffic] = Field(default_factory=dict)
    branches: dict[str, float] = Field(default_factory=dict)
    loops: dict[str, float] = Field(default_factory=dict)
    items: dict[str, float] = Field(default_factory=dict)

    @field_validator("steps", mode="before")
    @classmethod
    def _probabilities(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"probability": v} if isinstance(v, int | float) else v for k, v in value.items()}
        return value

    @field_validator("branches")
    @classmethod
    def _branch_range(cls, value: dict[str, float]) -> dict[str, float]:
        for key, p in value.items():
            if not 0 <= p <= 1:
                raise ValueError(f"branch '{key}': probability {p} is not between 0 and 1")
        return value

    @field_validator("loops", "items")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for key, n in value.items():
            if n < 0:
                raise ValueError(f"'{key}': {n} is negative; give the expected count per execution")
        return value


class Traffic(BaseModel):
    """A whole ``traffic.yaml``."""

    model_config = ConfigDict(extra="forbid")

    region: str | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    workflows: dict[str, WorkflowTraffic]


def parse_traffic(data: Any, *, where: str = "traffic") -> Traffic:
    """Validate ``data``; a bad field is one line that names it."""
    try:
        return Traffic.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise StepbridgeError(f"{where}: {path}: {first['msg']} ({exc.error_count()} problem(s) in all)") from None


def load_traffic(path: str | Path) -> Traffic:
    """Read and validate a ``traffic.yaml`` file."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise StepbridgeError(f"traffic file {file} not found; see docs/COST.md for its format")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StepbridgeError(f"{file} is not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_traffic(data, where=str(file))
