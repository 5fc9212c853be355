"""Benchmarks: commands that print numbers and ratios measured in one run on one machine."""
