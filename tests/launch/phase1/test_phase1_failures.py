"""Phase 1's failure paths on dag.test against real replicas: rollback, rejection, four-eyes, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from include.demo_target.config import read_env_file
from include.launch.engine import locks
from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.faults import WhenLedgerShows
from tests.harness.latency import latency_cannot_decide
from tests.harness.phase import (
    Edit,
    build_variant,
    change_only,
    freeze_covering_now,
    only_the_load_gates,
    own_launch_id,
    phase1_conf,
)

FAST = phase1_conf(monitor_minutes=0.15, sample_interval_seconds=2)
# Every request takes 700 ms once the fault is set: twice the concurrency halves the wait, and the
# baseline keeps its 400 requests (60 let one stall of the machine fail the baseline itself).
SLOW_TARGET = {**FAST, "concurrency": 12}
APPROVE = [Answer("approve", user="exec_approver", params=REVIEWED)]


def phase1(*edits: Edit) -> Any:
    """Phase 1 with every latency gate out of the machine's reach (tests/harness/latency.py): these
    tests run beside another worker, and none is about how fast this machine answers."""
    return build_variant("accubooks", "phase1_pool_scaling", latency_cannot_decide, *edits)


def only_the_verification_latency_decides(plan: dict[str, Any]) -> None:
    """The verification's load keeps its shipped p95 < 500 ms (the test's 700 ms fault fails it);
    the baselines before the change, measured on this machine, cannot fail the run first."""
    latency_cannot_decide(plan, keep={"verify.synthetic_load"})


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def pools(env: dict[str, Any]) -> list[tuple[int, int]]:
    return [(h["pool"]["max"], h["pool"]["min"]) for h in env["target"].health()]


def events(env: dict[str, Any]) -> list[str]:
    return [row.event for row in Ledger(env["ledger"]).rows()]


def rollback_target_of_6_ms(plan: dict[str, Any]) -> None:
    """A rolling restart of two replicas always takes longer than 6 ms: the test's own restart is the delay."""
    plan["phases"][0]["rollback"]["target_minutes"] = 0.0001


def test_verification_failure_rolls_back_every_replica(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    target = launch_env["target"]
    dag = build_variant("accubooks", "phase1_pool_scaling", only_the_verification_latency_decides,
                        rollback_target_of_6_ms)
    with WhenLedgerShows(launch_env["ledger"], "change_applied", lambda: target.set_faults(latency_ms=700)) as fault:
        dag_run, _ = run_dag(dag, client=approvals, conf={**SLOW_TARGET, "rollback_watch_minutes": 0.1},
                             answers=APPROVE)
    assert fault.fired.is_set()
    result = states(dag_run)
    assert result["verify.synthetic_load"] == "failed"
    assert result["rollback"] == "failed"  # rolled back, then failed on purpose so the run cannot look green
    assert dag_run.state == "failed"
    assert pools(launch_env) == [(50, 10), (50, 10)]  # the snapshot, restored and read back on every replica
    assert read_env_file(target.env_file)["DB_POOL_MAX"] == "50"
    ledger = Ledger(launch_env["ledger"])
    done = ledger.rows(event="rollback_completed")
    assert len(done) == 1 and "latency_p95_ms < 500" in done[0].payload["reason"]
    assert done[0].payload["target_minutes"] == 0.0001 and done[0].payload["within_target"] is False
    slow = [r for r in ledger.rows(event="incident_opened") if r.payload["title"].startswith("Slow rollback")]
    assert len(slow) == 1 and slow[0].outcome == "P1"
    assert "over the plan's target of 0.0001 min" in slow[0].payload["summary"]
    watched = ledger.rows(event="rollback_watch_completed")  # slow, not broken: no trigger fires after it
    assert len(watched) == 1 and watched[0].payload["samples"] >= 2, ledger.rows(event="rollback_watch_breached")
    assert ledger.verify() == []
    assert any("Rolled back" in text for text in launch_env["slack"].texts())


def error_rate_judged_at_end(plan: dict[str, Any]) -> None:
    """The error-rate criterion waits for the window's end, so the P0 trigger is what rolls back."""
    plan["phases"][0]["soak"]["judged_at_end"] = ["error_rate_percent"]


def test_breach_during_soak_rolls_back_with_p0_and_the_watch_after_it_pages(
        launch_env: dict[str, Any], approvals: ApprovalClient, pager: Any) -> None:
    """The fault is not the change: it comes back on the restored replicas (the rolling restart
    cleared it), so the watch after the rollback sees the P0 trigger fire again, opens a P0
    incident and pages."""
    target = launch_env["target"]
    dag = phase1(error_rate_judged_at_end)
    conf = {**FAST, "monitor_minutes": 1, "rollback_watch_minutes": 0.5}
    with WhenLedgerShows(launch_env["ledger"], "soak_started", lambda: target.set_faults(error_rate=0.5)) as fault, \
            WhenLedgerShows(launch_env["ledger"], "rollback_watch_started",
                            lambda: target.set_faults(error_rate=0.5)) as again:
        dag_run, _ = run_dag(dag, client=approvals, conf=conf, answers=APPROVE)
    assert fault.fired.is_set() and again.fired.is_set()
    assert states(dag_run)["sustained_monitor"] == "failed"
    assert dag_run.state == "failed"
    assert pools(launch_env) == [(50, 10), (50, 10)]
    ledger = Ledger(launch_env["ledger"])
    triggered = ledger.rows(event="rollback_triggered")
    assert "error_rate_percent > 1" in triggered[0].payload["summary"]
    incidents = (launch_env["evidence"] / "phase1_pool_scaling").glob("*/incidents/*")
    assert any(p.name.startswith("INC-") for p in incidents)
    assert any("[P0]" in text for text in launch_env["slack"].texts())
    breached = ledger.rows(event="rollback_watch_breached")
    assert len(breached) == 1 and breached[0].payload["severity"] == "P0"
    assert "after the rollback, trigger error_rate_percent > 1 for 0.05 min fired" in breached[0].payload["summary"]
    titles = [r.payload["title"] for r in ledger.rows(event="incident_opened")]
    assert titles[-1].startswith("Breach after the rollback")
    assert len(ledger.rows(event="paged")) == 1
    page = pager.messages[-1]["body"]
    assert page["payload"]["severity"] == "P0" and "post-rollback watch" in page["payload"]["summary"]
    assert page["routing_key"] == "routing-key-1234"


def test_complete_refuses_a_run_that_left_a_listed_file_missing(launch_env: dict[str, Any],
                                                                 approvals: ApprovalClient) -> None:
    def lists_a_capacity_signoff(plan: dict[str, Any]) -> None:
        plan["phases"][0]["evidence_files"].append("capacity_signoff.pdf")

    dag = build_variant("accubooks", "phase1_pool_scaling", own_launch_id, change_only, lists_a_capacity_signoff)
    dag_run, _ = run_dag(dag, client=approvals, conf={"pool_max": 120, "pool_min": 20, "rollback_watch_minutes": 0},
                         answers=APPROVE)
    assert dag_run.state == "failed" and states(dag_run)["complete"] == "failed"
    ledger = Ledger(launch_env["ledger"])
    (refused,) = ledger.rows(event="evidence_missing")
    assert refused.payload["missing"] == ["capacity_signoff.pdf"]  # the report it did write is found
    assert "the change stays applied" in refused.payload["summary"]
    assert not ledger.rows(event="phase_completed")
    assert any("capacity_signoff.pdf" in text for text in launch_env["slack"].texts())


def test_rejection_changes_nothing_and_fails_the_run(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    dag = phase1()
    dag_run, results = run_dag(dag, client=approvals, conf=FAST, answers=[
        Answer("approve", user="exec_approver", option="Reject", params={"comment": "month-end close is too near"})])
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "failed"
    assert states(dag_run)["apply_change"] == "upstream_failed"
    assert pools(launch_env) == [(50, 10), (50, 10)]
    rejected = Ledger(launch_env["ledger"]).rows(event="approval_rejected")
    assert rejected[0].actor == "exec_approver" and rejected[0].payload["comment"] == "month-end close is too near"
    assert "change_applied" not in events(launch_env)
    assert any("Rejected by" in text and "month-end close is too near" in text for text in launch_env["slack"].texts())


def _trigger_user_is_an_approver(plan: dict[str, Any]) -> None:
    plan["phases"][0]["approval"]["approvers"].insert(0, {"id": "dag_test", "name": "The Operator",
                                                         "role": "Executive"})


def test_four_eyes_refuses_the_triggering_user(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    dag = phase1(_trigger_user_is_an_approver)
    dag_run, results = run_dag(dag, client=approvals, conf={**FAST, "dry_run": True}, answers=[
        Answer("approve", user="dag_test"), Answer("approve", user="exec_approver", params=REVIEWED)])
    assert [r.status_code for r in results] == [403, 200]
    assert dag_run.state == "success"
    requested = Ledger(launch_env["ledger"]).rows(event="approval_requested")[0]
    assert requested.payload["excluded_four_eyes"] == "dag_test"
    assert "dag_test" not in requested.payload["assigned"]


def test_dry_run_changes_nothing(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    before = launch_env["target"].env_file.read_text()
    dag = phase1()
    dag_run, _ = run_dag(dag, client=approvals, conf={**FAST, "dry_run": True}, answers=APPROVE)
    assert dag_run.state == "success"
    assert launch_env["target"].env_file.read_text() == before
    assert pools(launch_env) == [(50, 10), (50, 10)]
    seen = events(launch_env)
    assert "change_skipped" in seen and "phase_dry_run" in seen
    assert "change_applied" not in seen and "phase_completed" not in seen


def test_pool_beyond_database_capacity_is_refused_before_approval(launch_env: dict[str, Any],
                                                                  approvals: ApprovalClient) -> None:
    dag = phase1()
    dag_run, results = run_dag(dag, client=approvals, conf={**FAST, "pool_max": 5000}, answers=APPROVE)
    assert dag_run.state == "failed"
    assert states(dag_run)["pre_checks.database_capacity"] == "failed"
    assert results == []  # the approval was never asked
    failed = [r for r in Ledger(launch_env["ledger"]).rows(event="check_result") if r.outcome == "failed"]
    assert "pool_max 5000 x 2 replicas = 10000 connections" in failed[0].payload["summary"]
    assert "approval_requested" not in events(launch_env)


@pytest.mark.parametrize(("conf", "message"), [
    ({"pool_min": 300}, "DB_POOL_MIN (300) must be <= DB_POOL_MAX (120)"),
], ids=["min-above-max"])
def test_bad_trigger_params_refused_before_anything_runs(launch_env: dict[str, Any], approvals: ApprovalClient,
                                                         conf: dict[str, Any], message: str) -> None:
    dag = phase1()
    dag_run, _ = run_dag(dag, client=approvals, conf={**FAST, **conf}, answers=APPROVE)
    assert dag_run.state == "failed"
    assert states(dag_run)["phase_gate"] == "failed"
    refused = Ledger(launch_env["ledger"]).rows(event="params_refused")
    assert message in refused[0].payload["error"]


def test_second_concurrent_change_is_refused(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    dag = phase1()
    assert locks.acquire(launch_env["ledger"], "accubooks", "accubooks_phase2_monitoring", "other-run") is None
    dag_run, results = run_dag(dag, client=approvals, conf=FAST, answers=APPROVE)
    assert dag_run.state == "failed"
    assert states(dag_run)["phase_gate"] == "failed"
    assert results == []
    refused = Ledger(launch_env["ledger"]).rows(event="phase_refused")
    assert "run other-run" in refused[0].payload["reason"]
    assert pools(launch_env) == [(50, 10), (50, 10)]


def test_a_rollback_inside_a_freeze_is_never_held(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    """A freeze stops changes, not their reversal: the override lets the change in, the soak breaches,
    and the rollback runs inside the same freeze window with no override of its own."""
    target = launch_env["target"]
    dag = phase1(only_the_load_gates, freeze_covering_now(second_approval=False))
    answers = [Answer("freeze_override", user="eng_lead", params={"comment": "urgent"}), *APPROVE]
    conf = {**FAST, "monitor_minutes": 1,
            "freeze_override_justification": "Invoices time out at month end; the pool must grow now."}
    with WhenLedgerShows(launch_env["ledger"], "soak_started", lambda: target.set_faults(error_rate=0.5)) as fault:
        dag_run, results = run_dag(dag, client=approvals, conf=conf, answers=answers)
    assert fault.fired.is_set() and [r.status_code for r in results] == [200, 200]
    assert dag_run.state == "failed" and states(dag_run)["sustained_monitor"] == "failed"
    seen = events(launch_env)
    assert seen.index("freeze_override_granted") < seen.index("freeze_rechecked") < seen.index("change_applied")
    assert "rollback_completed" in seen and "freeze_refused" not in seen
    assert pools(launch_env) == [(50, 10), (50, 10)]
