"""How ``make demo`` ends when a phase does not succeed: a few lines a person can act on, no traceback.

Which phase and task failed, the task's own reason (the check's message, from the ledger, where
every gate writes it), where the task logs and the evidence are; the demo then exits 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAILED_STATES = ("failed", "upstream_failed")


class DemoError(Exception):
    """An expected way for the demo to stop: a phase refused, rejected, rolled back or timed out."""


@dataclass(frozen=True)
class FailedRun:
    dag_id: str
    run_id: str
    failed_tasks: list[str]
    reason: str
    logs: Path
    evidence: Path

    def message(self) -> str:
        tasks = ", ".join(self.failed_tasks) or "no task failed (the run itself did not finish)"
        return "\n".join([
            f"DEMO FAILED: {self.dag_id} (run {self.run_id})",
            f"  failed task(s): {tasks}",
            f"  reason: {self.reason}",
            f"  task logs: {self.logs}",
            f"  evidence: {self.evidence}",
        ])


RUN_SUMMARIES = ("phase_failed",)  # the DAG's failure callback: says that the run failed, not why


def ledger_reason(rows: list[Any]) -> str:
    """The newest failed step's own words (a check's summary, a refusal's reason, an error)."""
    for row in reversed(rows):
        if row.outcome in ("failed", "rejected") and row.event not in RUN_SUMMARIES:
            payload = row.payload
            text = payload.get("summary") or payload.get("reason") or payload.get("error") or payload.get("comment")
            return f"{row.event}: {text}" if text else row.event
    return "no failed step in the ledger: see the task logs"


def explain(rest: Any, ledger_url: str, dag_id: str, run_id: str, airflow_home: Path, evidence: Path,
            phase_id: str) -> FailedRun:
    """Collect what a person needs about a run that did not succeed; never raises for a missing part."""
    from include.launch.evidence.ledger import Ledger
    from include.launch.evidence.runtime import run_folder

    try:
        states = rest.task_states(dag_id, run_id)
    except Exception:  # noqa: BLE001 - the API may be the thing that failed
        states = {}
    failed = [task for task, state in sorted(states.items()) if state == "failed"]
    try:
        rows = [row for row in Ledger(ledger_url).rows() if row.run_id == run_id]
        reason = ledger_reason(rows)
    except Exception as exc:  # noqa: BLE001 - the ledger may be the thing that failed
        reason = f"ledger unreadable: {type(exc).__name__}: {exc}"
    return FailedRun(dag_id, run_id, failed, reason,
                     airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}",
                     evidence / phase_id / run_folder(run_id))
