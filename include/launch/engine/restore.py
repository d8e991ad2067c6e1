"""Putting a change back: the applier a phase's change kind names, and the restore of what
``snapshot_before`` captured, read back from every replica. The automatic rollback, a verification
marked success by hand and the manual rollback DAG all end here; a failed restore is a P0."""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.vocabulary import Outcome
from include.launch.engine.rollback_watch import watch_after_rollback
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.changes import CHANGES
from include.launch.plugins.changes.base import ChangeApplier
from include.launch.spec.effective import change_params
from include.launch.spec.phase import PhaseSpec


def applier_for(spec: PhaseSpec, params: dict[str, Any]) -> ChangeApplier:
    assert spec.phase.change is not None
    factory = CHANGES.get(spec.phase.change.kind).load()
    return factory(change_params(spec, params))  # type: ignore[no-any-return]


def over_target(minutes: float, target_minutes: float | None) -> str:
    """Why a rollback that took ``minutes`` missed the plan's ``target_minutes`` ("" when it did not)."""
    if target_minutes is None or minutes <= target_minutes:
        return ""
    return f"the rollback took {minutes:.2f} min, over the plan's target of {target_minutes:g} min"


def restore_snapshot(run: PhaseRun, snapshot: Any, reason: str) -> None:
    """Put back what snapshot_before captured and read it back from every replica; a failure is a P0.
    The time from start to verified read-back is measured against the plan's ``target_minutes``:
    over it, a P1 incident (the documents: a rollback takes 5-10 minutes). Then the rolled-back
    service is watched for ``watch_minutes`` (``engine.rollback_watch``): a breach there is a P0 and pages."""
    run.record("rollback_started", "", {"reason": reason})
    started = time.monotonic()
    try:
        applier = applier_for(run.spec, run.params)
        restored = applier.revert(run, snapshot)
        readback = applier.read_back(run)
    except Exception as exc:
        _rollback_failed(run, reason, exc)
        raise AirflowFailException(f"ROLLBACK FAILED (P0): {exc}") from exc
    minutes = (time.monotonic() - started) / 60
    target = run.spec.phase.rollback.target_minutes if run.spec.phase.rollback is not None else None
    late = over_target(minutes, target)
    run.record("rollback_completed", Outcome.SUCCESSFUL.value,
               {"reason": reason, "restored": restored, "read_back": readback, "duration_minutes": round(minutes, 4),
                "target_minutes": target, "within_target": not late})
    run.notify("rolled_back", f"Rolled back: {reason}. Restored values verified on every replica.", severity="P1")
    if late:
        from include.launch.evidence.incidents import open_incident

        open_incident(run, severity="P1", title=f"Slow rollback in {run.spec.phase.id}",
                      summary=f"{late} (rolled back: {reason})")
    watch_after_rollback(run, reason)


def _rollback_failed(run: PhaseRun, reason: str, exc: Exception) -> None:
    from include.launch.evidence.incidents import open_incident

    run.record("rollback_failed", Outcome.FAILED.value, {"reason": reason, "error": str(exc)})
    open_incident(run, severity="P0", title=f"Rollback failed in {run.spec.phase.id}",
                  summary=f"The rollback after '{reason}' failed: {exc}", data_integrity="UNKNOWN")
