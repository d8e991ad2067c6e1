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
    "blocked_by_incident": ("REFUSED", "an open incident stops this change"),
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


def _watch(rows: list[Row]) -> str:
    """What the watch after the rollback saw, in the words an on-call engineer needs."""
    for row in rows:
        if row.event == "rollback_watch_completed":
            return f"watched {row.payload.get('samples', '?')} samples after it: held"
        if row.event == "rollback_watch_breached":
            return f"BREACH IN THE WATCH AFTER IT (P0): {str(row.payload.get('summary', ''))[:80]}"
        if row.event == "rollback_watch_skipped":
            return "NOT WATCHED after it (the form asked for 0 min: weakened run)"
    return "watch after it still running or never started"


def rollback_outcome(row: Row, rows: list[Row]) -> str:
    """The reason, the rollback's duration against its target, and the watch after it."""
    minutes, target = row.payload.get("duration_minutes"), row.payload.get("target_minutes")
    took = ""
    if minutes is not None:
        late = "" if row.payload.get("within_target", True) else ", OVER: P1"
        took = f"; took {float(minutes):.1f} min" + ("" if target is None else f" (target {float(target):g}{late})")
    return f"rolled back: {str(row.payload.get('reason', ''))[:80]}{took}; {_watch(rows)}"


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
                    outcome = rollback_outcome(row, run_rows)
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
