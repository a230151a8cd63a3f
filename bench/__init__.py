"""Benchmarks: `python -m bench.<name>` (see README)."""
