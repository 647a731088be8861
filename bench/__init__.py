"""Benchmarks: one command each, printing ratios measured in one run."""
