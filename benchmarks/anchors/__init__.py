"""Anchors: the same workloads on other systems, measured in the same run (all optional but moto)."""
