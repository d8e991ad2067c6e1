"""Seed 000's approval rules on dag.test: only the executive approves an AccuBooks phase, and only
in writing (``required_roles``, ``comment_min_chars``). A comment that is too short is refused, told
to Slack and asked again; the engineering lead's answer is refused by Airflow itself (403).
Dry runs of Phase 1 with only the built-in gates: the subject is the approval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from include.launch.engine.approval import comment_refusal
from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.phase import build_variant, checks_removed

DRY = {"dry_run": True, "rollback_watch_minutes": 0}


def test_a_short_comment_is_refused_in_writing() -> None:
    assert comment_refusal("reviewed the pre-checks and the change", 20) == ""
    assert comment_refusal("  ok  ", 20) == "the comment has 2 characters; this approval needs at least 20, in writing"
    assert comment_refusal("", 0) == ""


def test_only_the_executive_approves_and_only_in_writing(ledger_db: str, evidence_base: Path, slack: Any,
                                                         approvals: ApprovalClient) -> None:
    dag = build_variant("accubooks", "phase1_pool_scaling", checks_removed)
    answers = [
        Answer("approve", user="eng_lead", params=REVIEWED),                    # not the executive: 403
        Answer("approve", user="exec_approver", params={"comment": "ok"}),      # accepted by the API, refused
        Answer("approve", user="exec_approver", option="Reject", params={"comment": "no"}),  # refused as well
        Answer("approve", user="exec_approver", params=REVIEWED),
    ]
    dag_run, results = run_dag(dag, conf=DRY, client=approvals, answers=answers)
    assert [r.status_code for r in results] == [403, 200, 200, 200]
    assert dag_run.state == "success"
    ledger = Ledger(ledger_db)
    refused = ledger.rows(event="approval_refused")
    assert [(r.actor, r.payload["choice"]) for r in refused] == [("exec_approver", "Approve"),
                                                                  ("exec_approver", "Reject")]
    assert refused[0].payload["reason"] == ("the comment has 2 characters; this approval needs at least 20, "
                                            "in writing")
    requested = ledger.rows(event="approval_requested")
    assert len(requested) == 3 and all(r.payload["assigned"] == ["exec_approver"] for r in requested)
    (given,) = ledger.rows(event="approval_given")
    assert given.actor == "exec_approver" and given.payload["comment"] == REVIEWED["comment"]
    assert ledger.rows(event="approval_rejected") == []
    assert any("refused: the comment has 2 characters" in text for text in slack.texts())
    (document,) = evidence_base.rglob("approval_*.md")  # the answer an auditor reads, beside the evidence
    text = document.read_text()
    assert "- Answer: **Approve**" in text and "(`exec_approver`) at " in text
    assert f"- Comment: {REVIEWED['comment']}" in text and given.payload["reviewed_digest"] in text
