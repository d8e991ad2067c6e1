"""The engineering lead rolls a completed Phase 1 back by hand, with no approval; nobody else may;
afterwards Phase 2's order gate refuses and the status table says ROLLED BACK. dag.test, against the
real two-replica target (the real stack's proof is a follow-up: see the closing note)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from include.launch.engine import steps
from include.launch.engine.manual_rollback import DONE, REFUSED
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.status import phase_statuses
from include.launch.evidence.store import read_url
from include.launch.plan import load_plan
from include.launch.spec.phase import build_phase_spec
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.phase import build_variant, change_only, dag_from_plan_file, own_launch_id, plan_file_of

REASON = "Customers report slow invoices since the pool change."


def dag_test_is_the_lead(plan: dict[str, Any]) -> None:
    """dag.test triggers as ``dag_test``: here it holds Phase 1's Engineering Lead role."""
    phase = next(p for p in plan["phases"] if p["id"] == "phase1_pool_scaling")
    phase["approval"]["approvers"].append({"id": "dag_test", "name": "Lead (test)", "role": "Engineering Lead"})


def rollback_dag(plan_file: Any) -> Any:
    return dag_from_plan_file(plan_file, "manual_rollback_dag(PLAN)", "rollback")


ASK = {"phase": "phase1_pool_scaling", "reason": REASON}


def pools(env: dict[str, Any]) -> list[tuple[int, int]]:
    return [(h["pool"]["max"], h["pool"]["min"]) for h in env["target"].health()]


def test_the_lead_rolls_back_a_completed_phase_alone(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    phase1 = build_variant("accubooks", "phase1_pool_scaling", own_launch_id, dag_test_is_the_lead, change_only)
    dag_run, _ = run_dag(phase1, client=approvals, conf={"pool_max": 120, "pool_min": 20, "rollback_watch_minutes": 0},
                         answers=[Answer("approve", user="exec_approver", params=REVIEWED)])
    assert dag_run.state == "success", [r.payload for r in Ledger(launch_env["ledger"]).rows() if r.outcome == "failed"]
    assert pools(launch_env) == [(120, 20), (120, 20)]

    plan_file = plan_file_of(phase1)
    rollback = rollback_dag(plan_file).test(run_conf=ASK)
    assert rollback.state == "success"
    assert pools(launch_env) == [(50, 10), (50, 10)]  # the completed run's snapshot, on every replica
    ledger = Ledger(launch_env["ledger"])
    (done,) = ledger.rows(event=DONE)
    assert done.actor == "dag_test" and done.payload["of_run"] == dag_run.run_id and done.payload["reason"] == REASON
    assert "approval_given" not in [r.event for r in ledger.rows() if r.run_id == rollback.run_id]  # alone
    document = read_url(done.evidence[0]["path"]).decode()
    assert "- Rolled back by: dag_test (Engineering Lead), no approval" in document and REASON in document
    assert ledger.verify() == []

    plan = load_plan(plan_file)
    assert phase_statuses(plan, ledger)[0].status == "ROLLED BACK"
    phase2 = build_phase_spec(plan, "phase2_monitoring", plan_file)
    context = {"run_id": "manual__next", "params": {}, "ti": SimpleNamespace(task_id="pre_checks.phase_order"),
               "dag_run": SimpleNamespace(triggering_user_name="operator")}
    result = steps.phase_order(phase2, context)
    assert result.outcome.value == "failed" and "was rolled back by hand by dag_test" in result.summary


def test_only_the_plans_role_may_roll_back(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    phase1 = build_variant("accubooks", "phase1_pool_scaling", own_launch_id, change_only)
    before = pools(launch_env)
    rollback = rollback_dag(plan_file_of(phase1)).test(run_conf=ASK)
    assert rollback.state == "failed"
    (refused,) = Ledger(launch_env["ledger"]).rows(event=REFUSED)
    assert "'dag_test' may not roll back phase1_pool_scaling: only ['eng_lead'] (Engineering Lead)" \
        in refused.payload["reason"]
    assert pools(launch_env) == before
    assert any("Manual rollback of phase1_pool_scaling refused" in t for t in launch_env["slack"].texts())
