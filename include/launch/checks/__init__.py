"""Pre-check and verification checks. ``CHECKS`` is the registry a plan's ``kind`` is looked up in."""

from include.launch.checks.catalog import CHECKS

__all__ = ["CHECKS"]
