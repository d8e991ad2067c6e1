"""What an open incident does to a launch, and the steps people take on it.

- ``refuse_while_incidents_block``: a phase's gate refuses a change while an incident whose plan rule
  says "stop all changes" is open, and a change that enrols users while one says "pause new users"
  is open (rollbacks run in their own DAG and are never refused). The refusal names the incidents.
- ``take_incident_step`` / ``escalate_overdue``: the lifecycle (include.launch.evidence.incident_log)
  run against the phase that opened the incident, so its rows, report and Slack line sit with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.launch.evidence.incident_log import Incident, describe, incidents, open_with_action, overdue
from include.launch.evidence.incidents import escalate, take_step
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import Plan
from include.launch.plan.incident_rules import PAUSE_NEW_USERS, STOP_ALL_CHANGES

BLOCKED = "blocked_by_incident"
INCIDENT_TASK = "incident_lifecycle"


def blocking_incidents(run: PhaseRun) -> tuple[str, list[Incident]]:
    """The plan action that blocks this phase's change and the open incidents that carry it."""
    from include.launch.plugins.changes.catalog import DECISION_ONLY, ENROLS_USERS

    change = run.spec.phase.change
    if change is None:
        return "", []
    rows = run.ledger.rows(launch_id=run.spec.launch_id)
    for action, applies in ((STOP_ALL_CHANGES, change.kind not in DECISION_ONLY),
                            (PAUSE_NEW_USERS, change.kind in ENROLS_USERS)):
        found = open_with_action(run.spec.plan, rows, action) if applies else []
        if found:
            return action, found
    return "", []


def refuse_while_incidents_block(run: PhaseRun) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    action, found = blocking_incidents(run)
    if not found:
        return
    reason = (f"open incident(s) {describe(found)}: the plan's incident rule says '{action}', so "
              f"{run.spec.phase.id!r} may not change anything until they are resolved "
              f"(python -m include.launch.incidents resolve ID --plan {run.spec.launch_id} --by USER --note ...)")
    run.record(BLOCKED, "failed", {"reason": reason, "action": action,
                                   "incidents": [i.incident_id for i in found]})
    run.notify("failed", reason, severity=found[0].severity)
    raise AirflowFailException(reason)


def run_for(plan: Plan, plan_path: str | Path, incident: Incident, task_id: str = INCIDENT_TASK,
            actor: str = "") -> PhaseRun:
    """A PhaseRun on the phase and run that opened ``incident``."""
    from include.launch.spec.phase import build_phase_spec

    return PhaseRun(spec=build_phase_spec(plan, incident.phase_id, plan_path), run_id=incident.run_id,
                    task_id=task_id, triggering_user=actor)


SUMMARY_MIN_CHARS = 10  # what was seen, in words the responders can act on


def open_by_hand(plan: Plan, plan_path: str | Path, phase_id: str, severity: str, title: str, summary: str,
                 by: str, tenants: list[str] | None = None) -> str:
    """A person opens an incident (seed 000's report, ledger, Slack); returns its id. Refused, before
    anything is written, for an unknown phase or severity, an empty title, a summary under 10
    characters, or someone the plan does not name."""
    from include.launch.evidence.incident_log import IncidentStepError
    from include.launch.evidence.incidents import open_incident
    from include.launch.plan.incident_rules import people
    from include.launch.spec.phase import build_phase_spec

    phases = [phase.id for phase in plan.phases]
    if phase_id not in phases:
        raise IncidentStepError(f"launch {plan.launch.id!r} has no phase {phase_id!r} (phases: {', '.join(phases)})")
    if severity not in {rule.severity.value for rule in plan.incidents}:
        raise IncidentStepError(f"severity {severity!r} has no incident rule in the plan "
                                f"({', '.join(r.severity.value for r in plan.incidents)})")
    if not title.strip():
        raise IncidentStepError("an incident needs a title")
    if len(summary.strip()) < SUMMARY_MIN_CHARS:
        raise IncidentStepError(f"the summary must say what was seen in at least {SUMMARY_MIN_CHARS} characters")
    if by not in people(plan):
        raise IncidentStepError(f"{by!r} is not a person the plan names; who opens an incident is on its report")
    moment = datetime.now(UTC)
    run = PhaseRun(spec=build_phase_spec(plan, phase_id, plan_path), run_id=f"manual__incident_{moment:%Y%m%dT%H%M%S}",
                   task_id=INCIDENT_TASK, triggering_user=by)
    ref = open_incident(run, severity=severity, title=title.strip(), summary=summary.strip(), tenants=tenants,
                        opened_by=by)
    return ref.path.rsplit("/", 1)[-1].removesuffix(".md")


def find_incident(plan: Plan, incident_id: str) -> Incident | None:
    """One incident of the launch from its ledger, or None."""
    rows = Ledger.from_connection(plan.connections.ledger).rows(launch_id=plan.launch.id)
    return next((i for i in incidents(rows) if i.incident_id == incident_id), None)


def take_incident_step(plan: Plan, plan_path: str | Path, incident_id: str, step: str, actor: str, note: str,
                       root_cause: str = "") -> Incident:
    """Check and record one step (IncidentStepError, before anything is written, when refused)."""
    from include.launch.evidence.incident_log import IncidentStepError

    rows = Ledger.from_connection(plan.connections.ledger).rows(launch_id=plan.launch.id)
    incident = next((i for i in incidents(rows) if i.incident_id == incident_id), None)
    if incident is None:
        raise IncidentStepError(f"launch {plan.launch.id!r} has no incident {incident_id!r}")
    return take_step(run_for(plan, plan_path, incident, actor=actor), incident_id, step, actor, note, root_cause,
                     rows)


def escalate_overdue(plan: Plan, plan_path: str | Path,
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[dict[str, Any]]:
    """Page for every incident nobody acknowledged within its severity's respond_within_minutes."""
    ledger = Ledger.from_connection(plan.connections.ledger)
    now = clock()
    return [escalate(run_for(plan, plan_path, incident, task_id="escalate"), incident, within, now)
            for incident, within in overdue(plan, ledger.rows(launch_id=plan.launch.id), now)]
