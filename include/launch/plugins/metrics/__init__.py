"""Metric sources. Each returns the same Sample, so checks and the soak never care where data came from."""
