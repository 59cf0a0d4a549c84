"""Repeatable benchmarks of stepbridge against its anchors: ``python -m benchmarks`` (see RESULTS.md)."""
