"""Scorecard DAGs built from plan variants (the analogue of tests.harness.phase.build_variant), and
the replay helpers the daily-metrics tests share."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from include.launch.evidence.ledger import Event, Ledger
from tests.harness.phase import Edit, write_variant


def build_scorecard_variant(plan_name: str, scorecard_id: str, *edits: Edit) -> Any:
    """A scorecard DAG from a plan variant (a unique dag_id per call)."""
    return write_variant(plan_name, "scorecard_dag", scorecard_id, *edits)


def open_window(ledger_url: str, launch_id: str, phase_id: str, start: date, days: int, tenants: list[int],
                event: str = "beta_started", invitees: list[dict[str, int]] | None = None) -> None:
    """The ledger row a completed Phase 3 apply writes: the window the daily DAG reads (``invitees``:
    the people a pause or a resume is told, ``{"tenant_id": .., "user_id": ..}`` each)."""
    moment = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    Ledger(ledger_url).append(Event(launch_id=launch_id, phase_id=phase_id, run_id="replay_window", event=event,
                                    outcome="successful", payload={"start": moment.isoformat(), "days": days,
                                                                   "tenants": tenants, "invitees": invitees or []}))


def phase_completed(ledger_url: str, launch_id: str, phase_id: str) -> None:
    Ledger(ledger_url).append(Event(launch_id=launch_id, phase_id=phase_id, run_id=f"earlier_{phase_id}",
                                    event="phase_completed", outcome="successful", payload={"note": "test setup"}))


def run_day(dag: Any, day: date) -> Any:
    """One scheduled run of a daily DAG for the logical date ``day``."""
    return dag.test(logical_date=datetime.combine(day, datetime.min.time(), tzinfo=UTC))


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
