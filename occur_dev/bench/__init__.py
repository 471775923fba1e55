"""Benchmarks behind ``occur bench``: they measure and return figures; the CLI prints them."""
