"""Phase 4: the rollout decision. Nothing in the target changes: the 'change' is the decision.

propose: read the beta's evidence (the scorecard's folder, the ledger's incidents), judge every
success criterion over the whole beta, answer the scaling questions with the plan's rules, and
recommend YES / CONDITIONAL / NO; writes beta_completion_report.md, post_beta_decisions.md,
scaling_justifications.md and review.json to the run's folder (``beta_reviewed`` ledger row).

apply: the executive's answer (the ``decision_given`` row of this run, from include.launch.engine.decision)
becomes rollout_approval.md and a ``rollout_decided`` ledger row; Slack announces it.
revert: withdraws this run's decision (``rollout_decision_withdrawn``); the earlier one stands.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.launch.beta.scoring import fmt
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.events import DECISION_GIVEN
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.plugins.changes.catalog import RolloutDecisionParams
from include.launch.review import analysis, evidence, reports

BETA_REVIEWED = "beta_reviewed"
ROLLOUT_DECIDED = "rollout_decided"
REPORTS = ("beta_completion_report.md", "post_beta_decisions.md", "scaling_justifications.md")


class RolloutDecisionApplier:
    def __init__(self, params: RolloutDecisionParams) -> None:
        self.params = params

    def _scorecard(self, run: PhaseRun) -> Any:
        card = next((c for c in run.spec.plan.scorecards if c.id == self.params.scorecard), None)
        if card is None:
            raise AirflowFailException(f"the plan has no scorecard {self.params.scorecard!r} to review")
        return card

    def review(self, run: PhaseRun) -> dict[str, Any]:
        card = self._scorecard(run)
        store = EvidenceStore(run.spec.plan.evidence.base)
        beta = evidence.load(store, card.evidence_folder, run.ledger.rows(launch_id=run.spec.launch_id), card.phase)
        return analysis.review(self.params, list(card.criteria), beta, card.days)

    def propose(self, run: PhaseRun) -> dict[str, Any]:
        result = self.review(run)
        texts = {
            "beta_completion_report.md": reports.completion_report(result, run.run_id),
            "post_beta_decisions.md": reports.decisions_report(result, run.run_id),
            "scaling_justifications.md": reports.scaling_report(result),
            "review.json": json.dumps(result, indent=2, sort_keys=True, default=str) + "\n",
        }
        refs = [run.evidence.write_text(name, text, replace=True) for name, text in texts.items()]
        rec = result["recommendation"]
        met = sum(1 for c in result["criteria"] if c["verdict"] == analysis.PASS)
        scaling = [f"{s['name']}: {'SCALE' if s['decision'] == 'SCALE' else 'KEEP'} "
                   f"{fmt(s['current'])} -> {fmt(s['target'])} {s['unit']} ({s['why']})" for s in result["scaling"]]
        summary = (f"{met} of {len(result['criteria'])} criteria met over {result['beta']['days']} days "
                   f"({result['beta']['first_day']} to {result['beta']['last_day']}); "
                   f"{len(result['incidents'])} incident(s). " + " ".join(f"Scaling {s}." for s in scaling))
        run.record(BETA_REVIEWED, rec["decision"], {
            "recommendation": rec["decision"], "blockers": rec["blockers"], "conditions": rec["conditions"],
            "criteria": [{"name": c["name"], "verdict": c["verdict"]} for c in result["criteria"]],
            "scaling": {s["name"]: s["decision"] for s in result["scaling"]},
            "evidence_used": result["evidence_used"]}, refs)
        folder = f"{run.spec.phase.id}/{run.evidence.folder.rsplit('/', 1)[-1]}"
        return {"recommendation": rec["decision"], "conditions": rec["conditions"], "blockers": rec["blockers"],
                "scaling": scaling, "summary": summary, "files": [f"{folder}/{name}" for name in REPORTS],
                "evidence_used": result["evidence_used"]}

    # -- contract ---------------------------------------------------------------------------
    def snapshot(self, run: PhaseRun) -> dict[str, Any]:
        return {"previous_decision": self.read_back(run).get("decision"), "taken_at": datetime.now(UTC).isoformat()}

    def apply(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        mine = run.own_rows()
        given = [row for row in mine if row.event == DECISION_GIVEN]
        reviewed = [row for row in mine if row.event == BETA_REVIEWED]
        if not given or not reviewed:
            raise AirflowFailException("no decision (or no review) recorded in this run: nothing to record")
        decision, review_row = given[-1].payload, reviewed[-1]
        refuse_rollout_while_changes_stop(run, str(decision["choice"]))
        proposal = {"recommendation": review_row.payload["recommendation"],
                    "conditions": review_row.payload["conditions"], "blockers": review_row.payload["blockers"],
                    "scaling": [f"{name}: {verdict}" for name, verdict in review_row.payload["scaling"].items()]}
        folder = f"{run.spec.phase.id}/{run.evidence.folder.rsplit('/', 1)[-1]}"
        reviewed_files = [f"{folder}/{name}" for name in REPORTS] + list(review_row.payload["evidence_used"])
        text = reports.approval_document(phase_title=run.spec.phase.title, decision=decision, proposal=proposal,
                                         reviewed=reviewed_files, run_id=run.run_id, ledger_seq=given[-1].seq)
        ref = run.evidence.write_text("rollout_approval.md", text)
        outcome = {"decision": decision["choice"], "recommendation": proposal["recommendation"],
                   "decided_by": decision["responder"], "decided_by_name": decision["responder_name"],
                   "decided_at": decision["responded_at"], "comment": decision["comment"],
                   "conditions": proposal["conditions"] if decision["choice"] == "CONDITIONAL" else [],
                   "rollout_users": self.params.rollout_users, "document": ref.path}
        run.record(ROLLOUT_DECIDED, decision["choice"], outcome, [ref], actor=decision["responder"])
        conditions = "; ".join(outcome["conditions"])
        run.notify("rollout_decided", f"Rollout to {self.params.rollout_users:,} users: {decision['choice']} "
                                      f"(recommended {proposal['recommendation']}), decided by "
                                      f"{decision['responder_name']}" + (f". Conditions: {conditions}" if conditions
                                                                         else ""),
                   details={"Decision": decision["choice"], "Decided by": decision["responder_name"],
                            "Record": "rollout_approval.md"})
        return outcome

    def read_back(self, run: PhaseRun) -> dict[str, Any]:
        rows = run.ledger.rows(launch_id=run.spec.launch_id, phase_id=run.spec.phase.id)
        withdrawn = {row.payload.get("seq") for row in rows if row.event == "rollout_decision_withdrawn"}
        decided = [row for row in rows if row.event == ROLLOUT_DECIDED and row.seq not in withdrawn]
        return {**decided[-1].payload, "seq": decided[-1].seq} if decided else {}

    def revert(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        current = self.read_back(run)
        if current and current.get("seq") and str(current.get("document", "")).find(run.evidence.folder) >= 0:
            run.record("rollout_decision_withdrawn", Outcome.SUCCESSFUL.value, {"seq": current["seq"]})
        return {"decision": snapshot.get("previous_decision")}


def refuse_rollout_while_changes_stop(run: PhaseRun, choice: str) -> None:
    """Only NO may be recorded while an incident whose rule says "stop all changes" is open."""
    from include.launch.evidence.incident_log import describe, open_with_action
    from include.launch.plan.incident_rules import STOP_ALL_CHANGES

    if choice == "NO":
        return
    found = open_with_action(run.spec.plan, run.ledger.rows(launch_id=run.spec.launch_id), STOP_ALL_CHANGES)
    if found:
        reason = (f"rollout {choice} refused: open incident(s) {describe(found)} stop all changes; only NO may be "
                  "recorded until they are resolved")
        run.record("rollout_refused", Outcome.FAILED.value, {"reason": reason, "choice": choice,
                                                             "incidents": [i.incident_id for i in found]})
        raise AirflowFailException(reason)


def rollout_decision(params: RolloutDecisionParams) -> RolloutDecisionApplier:
    return RolloutDecisionApplier(params)
