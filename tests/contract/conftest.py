"""Contract tests: one small test per behaviour the public API contract and the seed's patterns
state (docs/API.md documents the same API), written from those descriptions rather than from the
code. ``test_moto_variants`` re-runs the memory-backend ones on moto."""
