"""The launch status table of seed 000 (phase, status, duration, start, end, outcome), from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from include.launch.evidence.ledger import Ledger, Row
from include.launch.plan import Plan

ENDINGS = {
    "phase_completed": ("COMPLETE", "success"),
    "phase_dry_run": ("DRY RUN", "checks and approval only"),
    "rollback_completed": ("ROLLED BACK", "rolled back"),
    "rollback_failed": ("FAILED", "rollback failed (P0)"),
    "approval_rejected": ("REJECTED", "rejected"),
    "phase_failed": ("FAILED", "failed"),
    "phase_refused": ("REFUSED", "another change in progress"),
    "params_refused": ("REFUSED", "bad trigger params"),
    "gate_bypass_refused": ("REFUSED", "gate bypass refused (P1)"),
}


@dataclass(frozen=True)
class PhaseStatus:
    phase_id: str
    title: str
    status: str
    start: datetime | None
    end: datetime | None
    outcome: str
    run_id: str

    @property
    def duration(self) -> str:
        if self.start is None or self.end is None:
            return "-"
        minutes = (self.end - self.start).total_seconds() / 60
        return f"{minutes:.1f} min"


def _latest_run(rows: list[Row]) -> list[Row]:
    started = [row for row in rows if row.event == "phase_started"]
    if not started:
        return []
    run_id = started[-1].run_id
    return [row for row in rows if row.run_id == run_id]


def _marked(started: Row, status: str, outcome: str) -> str:
    """The outcome with what makes a run no production evidence: a demo plan, a weakened form."""
    if started.event != "phase_started":
        return outcome
    weakened = started.payload.get("weakened") or []
    if weakened and status == "COMPLETE":
        outcome = f"{outcome}, WEAKENED RUN ({'; '.join(weakened)}): does not open the next phase"
    if started.payload.get("plan_mode") == "demo":
        outcome = f"DEMO: {outcome}"
    return outcome


def phase_statuses(plan: Plan, ledger: Ledger) -> list[PhaseStatus]:
    rows = ledger.rows(launch_id=plan.launch.id)
    table = []
    for phase in plan.phases:
        run_rows = _latest_run([row for row in rows if row.phase_id == phase.id])
        if not run_rows:
            table.append(PhaseStatus(phase.id, phase.title, "NOT STARTED", None, None, "-", ""))
            continue
        status, outcome, end = "IN PROGRESS", "-", None
        for row in run_rows:
            if row.event in ENDINGS:
                status, outcome = ENDINGS[row.event]
                end = row.recorded_at
                if row.event == "rollback_completed":
                    outcome = f"rolled back: {str(row.payload.get('reason', ''))[:80]}"
                break
        outcome = _marked(run_rows[0], status, outcome)
        undone = [row for row in rows if row.phase_id == phase.id and row.event == "manual_rollback_completed"
                  and row.seq > run_rows[-1].seq]
        if undone and status == "COMPLETE":  # rolled back by hand after it completed
            status, outcome, end = ("ROLLED BACK", f"rolled back by hand by {undone[-1].actor}: "
                                    f"{str(undone[-1].payload.get('reason', ''))[:80]}", undone[-1].recorded_at)
        table.append(PhaseStatus(phase.id, phase.title, status, run_rows[0].recorded_at, end, outcome,
                                 run_rows[0].run_id))
    return table


def status_markdown(plan: Plan, ledger: Ledger) -> str:
    title = f"{plan.launch.name}: launch status" + (" (DEMO PLAN: not evidence for production)"
                                                     if plan.mode == "demo" else "")
    lines = [f"# {title}", "", "| Phase | Status | Duration | Start | End | Outcome |",
             "|---|---|---|---|---|---|"]
    for item in phase_statuses(plan, ledger):
        start = item.start.strftime("%Y-%m-%d %H:%M") if item.start else "-"
        end = item.end.strftime("%Y-%m-%d %H:%M") if item.end else "-"
        lines.append(f"| {item.title} | {item.status} | {item.duration} | {start} | {end} | {item.outcome} |")
    return "\n".join(lines) + "\n"
