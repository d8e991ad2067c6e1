"""Failure callbacks: plain functions (a BaseNotifier as DAG callback crashes under dag.test, #64649).

A task that fails after recording its own ledger row (checks, approval) is not recorded twice;
other failures (apply_change crashing, a soak breach) get a ``step_failed`` row here, so the
rollback can name its reason from the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from include.launch.plan.models import Plan
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


def launch_task_failure_notifier(plan: Plan, plan_path: str | Path, what: str, severity: str = "P1",
                                 record: bool = True) -> Callable[[Any], None]:
    """For a launch-wide DAG (incidents, ledger verification): tell Slack, on the launch's channel,
    that ``what`` failed and why; nothing such a DAG refuses or cannot read fails in silence.
    ``record=False``: the alarm does not touch the ledger (it may be what failed)."""
    def notify(context: Any) -> None:
        from include.launch.evidence.runtime import PhaseRun
        from include.launch.spec.phase import build_phase_spec

        try:
            run = PhaseRun.from_context(build_phase_spec(plan, plan.phases[0].id, plan_path), context)
            error = context.get("exception")
            run.notify("failed", f"{what} failed: {error}" if error else f"{what} failed", severity=severity,
                       record=record)
        except Exception:  # a callback must never hide the original failure
            log.exception("could not report the failure of %s", what)
    return notify


def log_dag_failure(context: Any) -> None:
    """A launch-wide DAG's run failed: its task's callback has told Slack already."""
    log.warning("launch DAG run %s failed", context.get("run_id"))
