"""Benchmarks: speed as ratios against bare baselines measured in the same run."""
