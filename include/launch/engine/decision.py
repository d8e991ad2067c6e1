"""A decision instead of an approval: Airflow's HITLBranchOperator over the plan's options.

Chosen by the phase builder when the plan's approval declares ``options`` (e.g. YES / CONDITIONAL /
NO). Two tasks replace ``approve``:

- ``propose``: the change applier's ``propose(run)`` (when it has one) computes the recommendation
  from evidence and writes what the approver reads; recorded as ``decision_proposed``;
- ``approve``: the decision. The recommendation is preselected (HITL ``defaults``), the body shows
  the proposal; four-eyes as for approvals. A comment is required, and an answer against the
  recommendation needs a comment that says why (at least ``OVERRIDE_REASON_MIN_CHARS`` characters);
  an answer that lacks either is refused (``decision_refused`` in the ledger, Slack) and the
  question is asked again. The answer, who and when become a ``decision_given`` ledger row (the
  change applier turns it into its evidence); every option continues to the next task, since the
  change records whichever answer was given.

An unanswered decision (timeout) is never taken for the preselected one: the task fails, no change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import Param, task
from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.vocabulary import Outcome
from include.launch.engine.approval import comment_refusal
from include.launch.engine.responder import responder
from include.launch.spec.phase import PhaseSpec

PROPOSE = "propose"
DECISION_GIVEN = "decision_given"
OVERRIDE_REASON_MIN_CHARS = 20


def decision_tasks(spec: PhaseSpec, next_task_id: str) -> list[Any]:
    """``propose`` and the decision operator, in order (the builder chains them)."""

    def propose_step(**context: Any) -> dict[str, Any]:
        return propose(spec, context)

    propose_step.__name__ = PROPOSE
    proposal = task(task_id=PROPOSE, retries=0)(propose_step)()
    decision = LaunchDecisionOperator(task_id="approve", spec=spec, next_task_id=next_task_id, retries=0)
    return [proposal, decision]


def propose(spec: PhaseSpec, context: Any) -> dict[str, Any]:
    """Ask the change for its recommendation (``propose(run)``); a change without one recommends nothing."""
    from include.launch.engine.restore import applier_for
    from include.launch.evidence.runtime import PhaseRun

    run = PhaseRun.from_context(spec, context)
    applier = applier_for(spec, run.params) if spec.has_change else None
    method = getattr(applier, "propose", None)
    proposal: dict[str, Any] = dict(method(run)) if method else {"recommendation": None,
                                                                  "summary": "no recommendation: decide on your own"}
    recommendation = proposal.get("recommendation")
    if recommendation is not None and recommendation not in spec.phase.approval.options:
        raise AirflowFailException(f"recommendation {recommendation!r} is not one of the options "
                                   f"{spec.phase.approval.options}")
    run.record("decision_proposed", "", {"recommendation": recommendation, "summary": proposal.get("summary", ""),
                                         "conditions": proposal.get("conditions", [])})
    return proposal


class LaunchDecisionOperator(HITLBranchOperator):
    """Choose one of the plan's options for a phase; the recommendation is preselected."""

    def __init__(self, *, spec: PhaseSpec, next_task_id: str, **kwargs: Any) -> None:
        approval = spec.phase.approval
        kwargs.pop("params", None)  # DAG-level params arrive here; the form shows only the comment
        options = list(approval.options)
        super().__init__(
            subject=f"{spec.plan.launch.name}: decide {spec.phase.title}",
            body=decision_body(spec, {}),
            options=options,
            options_mapping=dict.fromkeys(options, next_task_id),
            multiple=False,
            assigned_users=[{"id": a.id, "name": a.name} for a in approval.answerers()],
            response_timeout=timedelta(minutes=approval.timeout_minutes),
            params={"comment": Param("", type="string", title="Comment",
                                     description="Required: what you reviewed; if you decide against the "
                                                 "recommendation, say why.")},
            **kwargs,
        )
        self.spec = spec
        self.source = approval.recommendation_from or PROPOSE

    # -- asking --------------------------------------------------------------------------------
    def _proposal(self, context: Any) -> dict[str, Any]:
        value = context["ti"].xcom_pull(task_ids=self.source)
        return dict(value) if isinstance(value, dict) else {}

    def execute(self, context: Any) -> Any:
        from include.launch.engine.ledger_gate import reviewed_digest
        from include.launch.evidence.runtime import PhaseRun

        run = PhaseRun.from_context(self.spec, context)
        approvers = self.spec.phase.approval.answerers()
        excluded = {run.triggering_user} if self.spec.phase.approval.four_eyes else set()
        eligible = [a for a in approvers if a.id not in excluded]
        if not eligible:
            reason = f"no eligible approver: {sorted(excluded)} triggered the run; another person must decide"
            run.record("four_eyes_violation", Outcome.FAILED.value, {"reason": reason})
            raise AirflowFailException(reason)
        self.assigned_users = [{"id": a.id, "name": a.name} for a in eligible]
        proposal = self._proposal(context)
        recommendation = proposal.get("recommendation")
        self.defaults = [recommendation] if recommendation in self.options else None
        self.body = decision_body(self.spec, proposal)
        run.record("decision_requested", "", {"options": self.options, "recommendation": recommendation,
                                              "assigned": [a.id for a in eligible],
                                              "reviewed_digest": reviewed_digest(run.own_rows(), run.params)})
        return super().execute(context)

    # -- the answer ----------------------------------------------------------------------------
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from include.launch.evidence.runtime import PhaseRun

        run = PhaseRun.from_context(self.spec, context)
        user, name = responder(event, self.spec.phase.approval.approvers)
        if "error" in event or not user:
            kind = "timed out" if event.get("error_type") == "timeout" or not user else "failed"
            run.record("decision_timed_out" if kind == "timed out" else "decision_error", Outcome.FAILED.value,
                       {"error": str(event.get("error") or "no answer")})
            run.notify("failed", f"Decision {kind}: nothing was decided and no change was made.", severity="P2")
            raise AirflowFailException(f"decision {kind}: nothing decided, no change made")
        choice = str((event.get("chosen_options") or [""])[0])
        comment = str((event.get("params_input") or {}).get("comment") or "").strip()
        recommendation = self._proposal(context).get("recommendation")
        if self.spec.phase.approval.four_eyes and user == run.triggering_user:
            run.record("four_eyes_violation", Outcome.FAILED.value, {"user": user}, actor=user)
            raise AirflowFailException(f"four-eyes: {user!r} triggered this run and may not decide it")
        against = recommendation is not None and choice != recommendation
        problem = refusal(comment, against, recommendation, self.spec.phase.approval.comment_min_chars)
        if problem:
            run.record("decision_refused", Outcome.FAILED.value, {"choice": choice, "recommendation": recommendation,
                                                                  "comment": comment, "reason": problem}, actor=user)
            run.notify("decision_refused", f"Answer {choice} by {name} refused: {problem}. Please answer again.",
                       details={"Approver": name})
            return self.execute(context)  # the same question again (the earlier response is cleared)
        asked = run.own_rows("decision_requested")
        payload = {"choice": choice, "recommendation": recommendation, "against_recommendation": against,
                   "comment": comment, "responder": user, "responder_name": name,
                   "responded_at": str(event.get("responded_at")), "options": self.options,
                   "reviewed_digest": asked[-1].payload.get("reviewed_digest", "") if asked else ""}
        run.record(DECISION_GIVEN, choice, payload, actor=user)
        run.notify("decided", f"{name} decided {choice}" + (f" against the recommendation {recommendation}"
                                                            if against else "") + f": {comment}",
                   details={"Decision": choice, "Decided by": name})
        context["ti"].xcom_push(key="decision", value=payload)
        return super().execute_complete(context, event)


def refusal(comment: str, against: bool, recommendation: Any, min_chars: int = 0) -> str:
    """Why an answer cannot be accepted, or '' when it can (``min_chars``: the plan's written-comment rule)."""
    if not comment:
        return "a comment is required"
    if against and len(comment) < OVERRIDE_REASON_MIN_CHARS:
        return (f"the answer differs from the recommendation {recommendation}: the comment must say why "
                f"(at least {OVERRIDE_REASON_MIN_CHARS} characters)")
    return comment_refusal(comment, min_chars)


def decision_body(spec: PhaseSpec, proposal: dict[str, Any]) -> str:
    """Markdown the decider reads: recommendation, conditions, the proposal's summary and files."""
    phase = spec.phase
    lines = [f"### {phase.title} (risk {phase.risk.value})", ""]
    recommendation = proposal.get("recommendation")
    if recommendation:
        lines += [f"**Recommendation: {recommendation}** (preselected; a different answer needs a comment that "
                  "says why)", ""]
    for condition in proposal.get("conditions") or []:
        lines.append(f"- condition: {condition}")
    if proposal.get("summary"):
        lines += ["", str(proposal["summary"]), ""]
    files = proposal.get("files") or []
    if files:
        lines += ["**Read first:**", "", *[f"- `{name}`" for name in files], ""]
    lines += [f"Options: {', '.join(phase.approval.options)}. Evidence folder: "
              f"`{spec.plan.evidence.base}/{phase.id}/`"]
    return "\n".join(lines)
