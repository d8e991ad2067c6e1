"""An incident step as a human-in-the-loop task: ``<launch>_incident_response`` asks the plan's
people, in Airflow's Required Actions, to acknowledge, mitigate or resolve one incident, and takes the
step as the person who answers (the same step and refusals as the step DAG, the board and the CLI:
include.launch.engine.incidents.take_incident_step). Anyone may ask; whoever answers is recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from include.launch.engine.responder import responder
from include.launch.evidence.incident_log import NOTE_MIN_CHARS, STEPS
from include.launch.plan.models import Plan

RESPONSE_HOURS = 24  # an unanswered request expires; the escalation DAG keeps paging meanwhile


def responders(plan: Plan) -> list[dict[str, str]]:
    """Everyone the plan names, once each (who may resolve a P0 is checked when they answer)."""
    from include.launch.plan.incident_rules import everyone

    return [{"id": person.id, "name": person.name} for person in everyone(plan)]


class IncidentResponseOperator(HITLOperator):
    """Choose the step (the incident's next ones) and say what you saw or did."""

    def __init__(self, *, plan: Plan, plan_path: str | Path, **kwargs: Any) -> None:
        kwargs.pop("params", None)  # the DAG's incident_id stays in the trigger form; the answer form asks these
        super().__init__(
            subject=f"{plan.launch.name}: respond to an incident",
            body="The incident, its severity and its steps so far are shown when the request is made.",
            options=list(STEPS),
            assigned_users=responders(plan),  # type: ignore[arg-type]
            response_timeout=timedelta(hours=RESPONSE_HOURS),
            # The note's minimum is checked on the answer (the step is refused, naming it): a minLength here
            # would fail the task before it asks, since the form starts empty.
            params={"note": Param("", type="string", maxLength=2000, title="Note",
                                  description=f"What you saw or did, at least {NOTE_MIN_CHARS} characters, in "
                                              "words the incident review will read."),
                    "root_cause": Param("", type="string", maxLength=4000, title="Root cause (when resolving)")},
            **kwargs,
        )
        self.plan, self.plan_path = plan, plan_path

    def _incident(self, context: Any) -> Any:
        from include.launch.engine.incidents import find_incident

        ident = str(context["params"].get("incident_id") or "")
        incident = find_incident(self.plan, ident)
        if incident is None:
            raise AirflowFailException(f"refused: launch {self.plan.launch.id!r} has no incident {ident!r}")
        if not incident.is_open:
            raise AirflowFailException(f"refused: {ident} is already resolved")
        return incident

    def execute(self, context: Any) -> Any:
        incident = self._incident(context)
        self.options = incident.next_steps
        self.subject = f"{self.plan.launch.name}: {incident.severity} {incident.incident_id} {incident.title}"
        steps = "".join(f"\n- {step} by {done.actor} at {done.at:%Y-%m-%d %H:%M} UTC: {done.note}"
                        for step, done in incident.steps.items()) or "\n- none yet"
        self.body = (f"**{incident.severity} {incident.incident_id}**: {incident.title}\n\n{incident.summary}\n\n"
                     f"Opened by {incident.opened_by} at {incident.opened_at:%Y-%m-%d %H:%M} UTC in "
                     f"`{incident.phase_id}`. Steps so far:{steps}\n\nYou take the step you choose as yourself.")
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from include.launch.engine.incidents import take_incident_step
        from include.launch.evidence.incident_log import IncidentStepError

        if "error" in event:
            raise AirflowFailException(f"incident response not answered in {RESPONSE_HOURS} h: "
                                       f"{event.get('error_type', 'timeout')}")
        answer = super().execute_complete(context, event)
        user, _ = responder(event)
        inputs = event.get("params_input") or {}
        step = (event.get("chosen_options") or [""])[0]
        ident = str(context["params"].get("incident_id") or "")
        try:
            incident = take_incident_step(self.plan, self.plan_path, ident, step, user, str(inputs.get("note") or ""),
                                          str(inputs.get("root_cause") or ""))
        except IncidentStepError as exc:
            raise AirflowFailException(f"refused: {exc}") from None
        return {"incident_id": ident, "status": incident.status, "by": user, "answer": dict(answer)}
