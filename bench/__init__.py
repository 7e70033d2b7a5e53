"""Benchmarks: plain scripts, run as `.venv/bin/python bench/NAME.py`; results in docs/performance.md."""
