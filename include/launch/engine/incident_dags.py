"""A launch's two incident DAGs.

- ``<launch>_incident_escalation`` runs every five minutes: an incident nobody acknowledged within its
  severity's ``respond_within_minutes`` pages and says so in Slack, once.
- ``<launch>_incident_step`` is triggered from the UI to acknowledge, mitigate or resolve an
  incident: the signed-in user who triggers it is the one who takes the step (the plan decides who
  may resolve a P0), so nobody types another person's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from include.access.roles import INCIDENT_STEP_SUFFIX
from include.launch.engine.callbacks import launch_task_failure_notifier, log_dag_failure
from include.launch.evidence.incident_log import NOTE_MIN_CHARS, STEPS
from include.launch.plan.models import Plan

ESCALATION_SUFFIX = "_incident_escalation"
RESPONSE_SUFFIX = "_incident_response"
STEP_SUFFIX = INCIDENT_STEP_SUFFIX  # approvers may trigger it (include.access)


def incident_param() -> Param:
    return Param("", type="string", pattern="^INC-", title="Incident",
                 description="The id in the incident report and on the launch board.")


def _triggered(plan: Plan, plan_path: str | Path, what: str) -> dict[str, Any]:
    """What the launch's triggered incident DAGs share: tags, owner, failure callbacks."""
    return {"catchup": False, "tags": ["launch", plan.launch.id, "incidents"],
            "default_args": {"owner": plan.launch.owner, "retries": 0,
                             "on_failure_callback": launch_task_failure_notifier(plan, plan_path, what)},
            "on_failure_callback": log_dag_failure}


def build_escalation_dag(plan: Plan, plan_path: str | Path) -> DAG:
    with DAG(
        dag_id=f"{plan.launch.id}{ESCALATION_SUFFIX}",
        description=f"{plan.launch.name}: page for incidents nobody acknowledged in time",
        schedule="*/5 * * * *", catchup=False, max_active_runs=1,
        tags=["launch", plan.launch.id, "incidents"],
        default_args={"owner": plan.launch.owner, "retries": 1,
                      "on_failure_callback": launch_task_failure_notifier(plan, plan_path, "incident escalation")},
        on_failure_callback=log_dag_failure,
        doc_md="Reads the ledger; pages once per incident past its severity's respond_within_minutes.",
    ) as dag:
        @task(task_id="escalate")
        def escalate() -> list[dict[str, Any]]:
            from include.launch.engine.incidents import escalate_overdue

            return escalate_overdue(plan, plan_path)

        escalate()
    return dag


def build_step_dag(plan: Plan, plan_path: str | Path) -> DAG:
    with DAG(
        dag_id=f"{plan.launch.id}{STEP_SUFFIX}",
        description=f"{plan.launch.name}: acknowledge, mitigate or resolve an incident",
        schedule=None, max_active_runs=1, **_triggered(plan, plan_path, "incident step"),
        params={
            "incident_id": incident_param(),
            "step": Param(STEPS[0], type="string", enum=list(STEPS), title="Step"),
            "note": Param("", type="string", minLength=NOTE_MIN_CHARS, maxLength=2000, title="Note",
                          description="What you saw or did, in words the incident review will read."),
            "root_cause": Param("", type="string", maxLength=4000, title="Root cause (when resolving)"),
        },
        doc_md="You take the step as the signed-in user; resolving a P0 needs a role the plan's incident rule "
               "names.",
    ) as dag:
        @task(task_id="take_step")
        def take_step(**context: Any) -> dict[str, str]:
            from airflow.sdk.exceptions import AirflowFailException

            from include.launch.engine.incidents import take_incident_step
            from include.launch.evidence.incident_log import IncidentStepError

            params = context["params"]
            user = str(getattr(context.get("dag_run"), "triggering_user_name", "") or "")
            try:
                incident = take_incident_step(plan, plan_path, str(params["incident_id"]), str(params["step"]),
                                              user, str(params["note"]), str(params.get("root_cause") or ""))
            except IncidentStepError as exc:
                raise AirflowFailException(f"refused: {exc}") from None
            return {"incident_id": incident.incident_id, "status": incident.status, "by": user}

        take_step()
    return dag


def build_response_dag(plan: Plan, plan_path: str | Path) -> DAG:
    """``<launch>_incident_response``: ask the plan's people, in Required Actions, to take the next
    step of one incident; whoever answers takes it (include.launch.engine.incident_response)."""
    from include.launch.engine.incident_response import IncidentResponseOperator

    with DAG(
        dag_id=f"{plan.launch.id}{RESPONSE_SUFFIX}",
        description=f"{plan.launch.name}: ask for an incident's next step (human in the loop)",
        schedule=None, max_active_runs=4, **_triggered(plan, plan_path, "incident response"),
        params={"incident_id": incident_param()},
        doc_md="Asks in Required Actions for the incident's next step; the person who answers takes it as "
               "themselves (resolving a P0 needs a role the plan's incident rule names).",
    ) as dag:
        IncidentResponseOperator(task_id="respond", plan=plan, plan_path=plan_path)
    return dag
