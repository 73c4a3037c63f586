"""Baselines the benchmarks compare vodai against (see bench/README.md)."""
