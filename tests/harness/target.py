"""Test-side names for the running demo target (shared with the demo in include.devservices)."""

from include.devservices.demo_target_local import LiveTraffic, RunningTarget, running_target

__all__ = ["LiveTraffic", "RunningTarget", "running_target"]
