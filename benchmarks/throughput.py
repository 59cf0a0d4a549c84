from __future__ import annotations

from benchmarks.common import Config, Section


def run(cfg: Config) -> Section:
    return Section("throughput", "throughput")
