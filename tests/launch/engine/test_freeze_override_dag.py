"""The freeze override on dag.test: a run inside a freeze is refused with how to ask; with a
justification, two people other than the requester must approve; a rejection changes nothing.
Dry runs of Phase 1 with only the built-in gates: the subject is the freeze, not the target."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from include.launch.evidence.ledger import Ledger
from include.launch.evidence.store import read_url
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.phase import build_variant, checks_removed, freeze_covering_now

JUSTIFICATION = "Customers cannot close their books: the pool is exhausted at month end."
DRY = {"dry_run": True, "rollback_watch_minutes": 0}


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def events(ledger_url: str) -> list[str]:
    return [row.event for row in Ledger(ledger_url).rows()]


def test_inside_a_freeze_without_a_request_the_run_is_refused_with_how_to_ask(
        ledger_db: str, evidence_base: Any, slack: Any, approvals: ApprovalClient) -> None:
    dag = build_variant("accubooks", "phase1_pool_scaling", checks_removed, freeze_covering_now())
    dag_run, _ = run_dag(dag, conf=DRY, client=approvals)
    assert dag_run.state == "failed"
    task_states = states(dag_run)
    assert task_states["pre_checks.freeze_window"] == "failed"
    assert task_states["freeze_override"] == "upstream_failed" and task_states["approve"] == "upstream_failed"
    result = next(r for r in Ledger(ledger_db).rows(event="check_result") if r.payload["check"] == "freeze_window")
    summary = result.payload["summary"]
    assert result.outcome == "failed" and "inside change freeze test_freeze" in summary and " until " in summary
    assert "freeze_override_justification" in summary and "exec_approver, eng_lead" in summary
    assert any("freeze_window" in text and "inside change freeze" in text for text in slack.texts())


def test_an_override_needs_two_people_other_than_the_requester(
        ledger_db: str, evidence_base: Any, slack: Any, approvals: ApprovalClient) -> None:
    """dag.test triggers as ``dag_test``, here one of the window's approvers: it may not approve its own request."""
    dag = build_variant("accubooks", "phase1_pool_scaling", checks_removed,
                        freeze_covering_now(approvers=("dag_test", "eng_lead", "exec_approver"), max_hours=2))
    answers = [
        Answer("freeze_override", user="dag_test", params={"comment": "mine"}),           # the requester: 403
        Answer("freeze_override", user="eng_lead", params={"comment": "pool fix is low risk"}),
        Answer("freeze_override_second", user="eng_lead"),                               # already approved: 403
        Answer("freeze_override_second", user="exec_approver", params={"comment": "agreed"}),
        Answer("approve", user="exec_approver", params=REVIEWED),
    ]
    dag_run, results = run_dag(dag, conf={**DRY, "freeze_override_justification": JUSTIFICATION},
                               client=approvals, answers=answers)
    assert [r.status_code for r in results] == [403, 200, 403, 200, 200]
    assert dag_run.state == "success", states(dag_run)
    ledger = Ledger(ledger_db)
    requested = ledger.rows(event="freeze_override_requested")
    assert requested[0].payload["assigned"] == ["eng_lead", "exec_approver"]  # never the requester
    assert requested[1].payload["assigned"] == ["exec_approver"]              # never the first approver
    (granted,) = ledger.rows(event="freeze_override_granted")
    payload = granted.payload
    assert payload["window"] == "test_freeze" and payload["requested_by"] == "dag_test"
    assert payload["justification"] == JUSTIFICATION and payload["approved_by"] == ["eng_lead", "exec_approver"]
    hours = (datetime.fromisoformat(payload["expires_at"]) - datetime.fromisoformat(payload["granted_at"]))
    assert hours.total_seconds() == 2 * 3600  # the plan's limit comes before the window's end (3 h)
    assert any("overridden for this run" in text and JUSTIFICATION in text for text in slack.texts())
    # The approval's own document: what was reviewed, who, when, the comment (referenced by its ledger row).
    (given,) = ledger.rows(event="approval_given")
    (document,) = given.evidence
    text = read_url(document["path"]).decode()
    assert "- Answer: **Approve**" in text and "(`exec_approver`)" in text and "- Comment: reviewed" in text
    assert "`pre_checks.freeze_window`: successful: inside change freeze test_freeze" in text
    assert ledger.verify() == []


def test_a_rejected_override_changes_nothing(ledger_db: str, evidence_base: Any, slack: Any,
                                            approvals: ApprovalClient) -> None:
    dag = build_variant("accubooks", "phase1_pool_scaling", checks_removed, freeze_covering_now(second_approval=False))
    answers = [Answer("freeze_override", user="eng_lead", option="Reject", params={"comment": "wait for the 4th"})]
    dag_run, results = run_dag(dag, conf={**DRY, "freeze_override_justification": JUSTIFICATION},
                               client=approvals, answers=answers)
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "failed"
    assert states(dag_run)["approve"] == "upstream_failed"
    seen = events(ledger_db)
    assert "freeze_override_rejected" in seen and "freeze_override_granted" not in seen
    assert "approval_requested" not in seen
    assert any("rejected by" in text and "wait for the 4th" in text for text in slack.texts())


def test_a_short_justification_is_refused_before_anyone_is_asked(
        ledger_db: str, evidence_base: Any, slack: Any, approvals: ApprovalClient) -> None:
    dag = build_variant("accubooks", "phase1_pool_scaling", checks_removed, freeze_covering_now())
    dag_run, _ = run_dag(dag, conf={**DRY, "freeze_override_justification": "urgent"}, client=approvals)
    assert dag_run.state == "failed" and states(dag_run)["pre_checks.freeze_window"] == "failed"
    assert "freeze_override_requested" not in events(ledger_db)
    result = next(r for r in Ledger(ledger_db).rows(event="check_result") if r.payload["check"] == "freeze_window")
    assert "requires at least 20" in result.payload["summary"]
