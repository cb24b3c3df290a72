"""Benchmarks: `python -m bench.mirror` (what `make bench` runs)."""
