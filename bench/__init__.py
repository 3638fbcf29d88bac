"""Benchmarks for the learning-domain features; `python -m bench.run` runs them all."""
