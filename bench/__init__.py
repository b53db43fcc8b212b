"""The benchmark harness: python -m bench.run (see bench/run.py and docs/benchmarks.md)."""
