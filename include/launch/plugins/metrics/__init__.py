"""Metric sources. Each returns the same Sample, so checks and the soak never care where data came
from. ``SOURCES`` is the registry a phase's ``metric_sources`` kinds are looked up in."""

from include.launch.plugins.metrics.catalog import SOURCES

__all__ = ["SOURCES"]
