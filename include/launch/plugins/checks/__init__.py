"""Pre-check and verification checks. ``CHECKS`` is the registry a plan's ``kind`` is looked up in."""

from include.launch.plugins.checks.catalog import CHECKS

__all__ = ["CHECKS"]
