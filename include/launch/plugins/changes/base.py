"""The contract of a change applier: snapshot, apply, read back, revert.

``revert`` restores what ``snapshot`` captured, never values from the plan. Appliers write their
own evidence (config diff, deployment and restart logs) through the PhaseRun they are given.
"""

from __future__ import annotations

from typing import Any, Protocol

from include.launch.evidence.runtime import PhaseRun


class ChangeApplier(Protocol):
    def snapshot(self, run: PhaseRun) -> dict[str, Any]:
        """The current state, enough for revert to restore it exactly."""

    def apply(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Make the change; return what was applied (the 'after')."""

    def read_back(self, run: PhaseRun) -> dict[str, Any]:
        """What the target reports now, per replica."""

    def revert(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Restore the snapshot on every replica; return what was restored."""
