"""The phase approval: Airflow's human-in-the-loop ApprovalOperator, made safe for launches.

- four-eyes: the user who triggered the run is removed from the assignees at run time, so the
  REST API and the UI refuse that user's answer (403); the refusal is recorded in the ledger;
- a rejection is an explicit outcome: recorded with who and why, told to Slack, and the task
  fails, so the run can never be mistaken for a success (a plain rejected ApprovalOperator
  succeeds and merely skips its downstream);
- an approval that times out changes nothing: the task fails before any change task runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.vocabulary import Outcome
from include.launch.engine.responder import responder
from include.launch.plan.models import Approver
from include.launch.spec.phase import PhaseSpec


class LaunchApprovalOperator(ApprovalOperator):
    """Approve or Reject one phase; ``role`` narrows the assignees to one sign-off role."""

    def __init__(self, *, spec: PhaseSpec, role: str = "", **kwargs: Any) -> None:
        approval = spec.phase.approval
        approvers = approval.answerers(role)
        if not approvers:
            raise ValueError(f"{spec.dag_id}: no approver holds role {role!r}")
        kwargs.pop("params", None)  # DAG-level params arrive here; the form shows only the comment
        title = f"{spec.plan.launch.name}: approve {spec.phase.title}" + (f" ({role} sign-off)" if role else "")
        super().__init__(
            subject=title,
            body=approval_body(spec, role),
            assigned_users=[{"id": a.id, "name": a.name} for a in approvers],
            response_timeout=timedelta(minutes=approval.timeout_minutes),
            params={"comment": comment_param(approval.comment_min_chars)},
            **kwargs,
        )
        self.spec = spec
        self.role = role
        self.approvers = approvers

    def execute(self, context: Any) -> Any:
        from include.launch.engine.ledger_gate import reviewed_digest
        from include.launch.evidence.runtime import PhaseRun

        run = PhaseRun.from_context(self.spec, context)
        eligible = self._eligible(run)
        self.assigned_users = [{"id": a.id, "name": a.name} for a in eligible]
        run.record("approval_requested", "", {
            "role": self.role, "assigned": [a.id for a in eligible],
            "reviewed_digest": reviewed_digest(run.own_rows(), run.params),  # what this question shows
            "excluded_four_eyes": run.triggering_user if any(a.id == run.triggering_user for a in self.approvers)
            and self.spec.phase.approval.four_eyes else None,
        })
        return super().execute(context)

    def _eligible(self, run: Any) -> list[Approver]:
        """Plan approvers minus the triggering user (four-eyes) and minus anyone who already signed
        another role of this run (each sign-off by a different person)."""
        excluded = self._earlier_signers(run)
        if self.spec.phase.approval.four_eyes:
            excluded.add(run.triggering_user)
        eligible = [a for a in self.approvers if a.id not in excluded]
        if not eligible:
            reason = (f"no eligible {self.role or 'approver'}: {sorted(excluded)} triggered the run or already "
                      "signed another role; another person must approve")
            run.record("four_eyes_violation", Outcome.FAILED.value, {"reason": reason})
            raise AirflowFailException(reason)
        return eligible

    def _earlier_signers(self, run: Any) -> set[str]:
        if not self.role:
            return set()
        return {row.actor for row in run.own_rows("approval_given")}

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from include.launch.evidence.runtime import PhaseRun

        run = PhaseRun.from_context(self.spec, context)
        if "error" in event:
            run.record("approval_timed_out" if event.get("error_type") == "timeout" else "approval_error",
                       Outcome.FAILED.value, {"role": self.role, "error": str(event.get("error"))})
            run.notify("failed", f"Approval {'timed out' if event.get('error_type') == 'timeout' else 'failed'}: "
                                 "no change was made.", severity="P2")
            raise AirflowFailException("approval not given in time: no change was made")
        user, name = responder(event, self.approvers)
        choice = (event.get("chosen_options") or [""])[0]
        comment = str((event.get("params_input") or {}).get("comment") or "")
        if self.spec.phase.approval.four_eyes and user == run.triggering_user:
            run.record("four_eyes_violation", Outcome.FAILED.value, {"user": user, "role": self.role}, actor=user)
            raise AirflowFailException(f"four-eyes: {user!r} triggered this run and may not approve it")
        if user in self._earlier_signers(run):
            run.record("four_eyes_violation", Outcome.FAILED.value, {"user": user, "role": self.role}, actor=user)
            raise AirflowFailException(f"{user!r} already signed another role of this run; sign-offs need "
                                       "different people")
        short = comment_refusal(comment, self.spec.phase.approval.comment_min_chars)
        if short:
            run.record("approval_refused", Outcome.FAILED.value, {"role": self.role, "choice": choice,
                                                                  "comment": comment, "reason": short}, actor=user)
            run.notify("approval_refused", f"{choice} by {name} refused: {short}. Please answer again.",
                       details={"Approver": name})
            return self.execute(context)  # the same question again (the earlier response is cleared)
        asked = [row for row in run.own_rows("approval_requested") if row.payload.get("role") == self.role]
        payload = {"role": self.role, "choice": choice, "comment": comment, "responder_name": name,
                   "responded_at": str(event.get("responded_at")),
                   "reviewed_digest": asked[-1].payload.get("reviewed_digest", "") if asked else ""}
        document = [approval_document(run, self.role, user, payload)]
        if choice != self.APPROVE:
            run.record("approval_rejected", "rejected", payload, document, actor=user)
            run.notify("rejected", f"Rejected by {name}: {comment or 'no reason given'}. No change was made.",
                       details={"Approver": name})
            raise AirflowFailException(f"phase rejected by {name}: {comment or 'no reason given'}; no change made")
        run.record("approval_given", Outcome.SUCCESSFUL.value, payload, document, actor=user)
        run.notify("approved", f"Approved by {name}" + (f": {comment}" if comment else ""),
                   details={"Approver": name})
        return super().execute_complete(context, event)


def comment_param(min_chars: int) -> Param:
    """The answer form's comment; the form says how long it must be (the answer is checked anyway)."""
    rule = f"Required, at least {min_chars} characters: what you reviewed, or why you reject." if min_chars \
        else "What you reviewed; say why when you reject."
    return Param("", type="string", title="Comment", description=rule)


def comment_refusal(comment: str, min_chars: int) -> str:
    """Why a comment cannot be accepted ('' when it can): the plan's written-approval rule."""
    length = len(comment.strip())
    if length < min_chars:
        return f"the comment has {length} characters; this approval needs at least {min_chars}, in writing"
    return ""


def approval_body(spec: PhaseSpec, role: str = "") -> str:
    """Markdown the approver reads: pre-check results (templated from XCom), the change, evidence."""
    phase = spec.phase
    lines = [f"### {phase.title} (risk {phase.risk.value})", ""]
    lines += ["**Pre-checks** (all passed to reach this approval):", ""]
    for check in spec.pre_checks:
        lines.append(f"- `{check.name}`: {{{{ (ti.xcom_pull(task_ids='{check.task_id}') or {{}}).get('summary', "
                     f"'n/a') }}}}")
    from include.launch.engine.freeze_override import override_task_ids

    for task_id in override_task_ids(spec):
        lines.append(f"- `{task_id}`: {{{{ (ti.xcom_pull(task_ids='{task_id}') or {{}}).get('summary', 'n/a') }}}}")
    lines += ["", "**Change** (before -> after):", ""]
    if phase.change is None:
        lines.append("- no system change: this phase records a decision")
    else:
        params = phase.change.params
        before = params.get("documented_before", {})
        for key, value in (params.get("settings") or params).items():
            lines.append(f"- `{key}`: {before.get(key, 'current value (snapshot)')} -> {value}")
        lines.append("- override values given in the trigger form: `{{ params }}`")
    if phase.rollback_triggers:
        lines += ["", "**Automatic rollback if:** " + "; ".join(str(t) for t in phase.rollback_triggers)]
    lines += ["", f"Evidence folder: `{spec.plan.evidence.base}/{phase.id}/`"]
    if role:
        lines += ["", f"You sign off as **{role}**."]
    return "\n".join(lines)


def approval_document(run: Any, role: str, user: str, answer: dict[str, Any]) -> Any:
    """The approval as an auditor reads it, in the phase's evidence folder: what was reviewed (each
    pre-check's recorded result, the change asked for), who answered, when, and the comment."""
    phase = run.spec.phase
    results = [row for row in run.own_rows("check_result") if row.task_id.startswith("pre_checks.")]
    latest = {row.task_id: row for row in results}
    lines = [f"# Approval: {run.spec.plan.launch.name}, {phase.title}", "",
             f"- Phase: `{phase.id}` (risk {phase.risk.value}); run `{run.run_id}`",
             f"- Triggered by: {run.triggering_user or 'unknown'}",
             f"- Answer: **{answer['choice']}**" + (f" as {role}" if role else ""),
             f"- By: {answer['responder_name']} (`{user}`) at {answer['responded_at']}",
             f"- Comment: {answer['comment'] or '(none)'}",
             f"- Digest of what was shown (pre-check results, evidence hashes, the change): "
             f"`{answer.get('reviewed_digest') or 'none'}`; the change is refused if any of it differs",
             "", "## What was reviewed", ""]
    lines += [f"- `{task_id}`: {row.outcome}: {row.payload.get('summary', '')}" for task_id, row in latest.items()]
    if phase.change is not None:
        lines.append(f"- change `{phase.change.kind}` with the form's values: `{run.params}`")
    suffix = "".join(ch if ch.isalnum() else "_" for ch in f"_{role.lower()}") if role else ""
    moment = datetime.now(UTC)  # a cleared run may ask again: each answer keeps its own file
    return run.evidence.write_text(f"approval{suffix}_{moment:%Y%m%dT%H%M%S%f}.md", "\n".join(lines) + "\n")
