"""Benchmarks: rom against raw redis-py doing the minimal same Redis work.

Run ``python -m benchmarks.run`` from the repository root; see README.rst.
"""
