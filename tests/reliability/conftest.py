"""The reliability matrix reuses Phase 1's real services: a two-replica demo target, ledger, Slack."""

from tests.launch.phase1.conftest import launch_env, target

__all__ = ["launch_env", "target"]
