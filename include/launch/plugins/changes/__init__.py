"""Change appliers (apply / read back / revert). ``CHANGES`` is their registry."""

from include.launch.plugins.changes.catalog import CHANGES

__all__ = ["CHANGES"]
