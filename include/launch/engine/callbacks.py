"""Failure callbacks: plain functions (a BaseNotifier as DAG callback crashes under dag.test, #64649).

A task that fails after recording its own ledger row (checks, approval) is not recorded twice;
other failures (apply_change crashing, a soak breach) get a ``step_failed`` row here, so the
rollback can name its reason from the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from include.launch.spec.phase import PhaseSpec

log = logging.getLogger(__name__)

SELF_RECORDING_PREFIXES = ("pre_checks.", "verify.", "approve", "phase_gate", "rollback")


def task_failure_callback(spec: PhaseSpec) -> Callable[[Any], None]:
    def on_task_failure(context: Any) -> None:
        from include.launch.evidence.runtime import PhaseRun

        try:
            run = PhaseRun.from_context(spec, context)
            if run.task_id.startswith(SELF_RECORDING_PREFIXES):
                return
            error = str(context.get("exception") or "unknown error")[:1000]
            run.record("step_failed", "failed", {"task": run.task_id, "error": error, "summary": f"{run.task_id}: "
                                                 f"{error}"})
        except Exception:  # a callback must never hide the original failure
            log.exception("could not record the failure of %s", context.get("ti"))

    return on_task_failure


def dag_failure_callback(spec: PhaseSpec) -> Callable[[Any], None]:
    def on_dag_failure(context: Any) -> None:
        from include.launch.evidence.runtime import PhaseRun

        try:
            run = PhaseRun.from_context(spec, context)
            reason = str(context.get("reason") or "a task failed")
            run.record("phase_failed", "failed", {"reason": reason})
            run.notify("failed", f"{spec.phase.title} did not complete: {reason}", severity="P2",
                       details=run.ledger_head())
        except Exception:
            log.exception("could not report the failure of %s", spec.dag_id)

    return on_dag_failure
