"""Phase 1 on a real Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor),
driven only through the REST API: the operator triggers, an approver answers, the run ends; and the
faults only a real stack can show: a scheduler restart, an approval timeout enforced by the
triggerer, a cleared run, and a worker killed mid-change (the rollback case). The guards a person
could try to get past on the same stack: test_phase1_real_airflow_guards.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from include.devservices.airflow_local import scratch_dags
from include.devservices.airflow_stack import AirflowStack
from include.launch.evidence.ledger import Ledger
from tests.e2e.helpers import CONF, form_of, pools, run_rows, wait_for_task_state
from tests.harness.answers import REVIEWED
from tests.harness.faults import kill_task_process
from tests.harness.latency import latency_cannot_decide
from tests.harness.phase import build_variant, checks_removed

pytestmark = [pytest.mark.serial, pytest.mark.xdist_group("e2e")]  # a whole Airflow (see Makefile)


def test_phase1_through_the_rest_api(stack: dict[str, Any]) -> None:
    """Trigger, four-eyes, approve; the scheduler is restarted mid-soak and the soak still covers
    its whole window; then the finished run is cleared by hand and its re-run refused."""
    airflow: AirflowStack = stack["airflow"]
    dag_id = stack["dag_id"]
    operator, approver = airflow.rest("operator"), airflow.rest("exec_approver")
    run_id = operator.trigger(dag_id, CONF)
    approver.wait_for_approval(dag_id, run_id, "approve")
    assert operator.answer(dag_id, run_id, "approve").status_code == 403  # four-eyes: the operator may not
    assert approver.answer(dag_id, run_id, "approve", params=REVIEWED).status_code == 200
    wait_for_task_state(operator, dag_id, run_id, "sustained_monitor", "up_for_reschedule")
    airflow.restart("scheduler")  # F11: between two soak samples, as a deploy of the scheduler would
    assert operator.wait_for_end(dag_id, run_id) == "success", operator.task_states(dag_id, run_id)
    assert pools(stack["target"]) == [(120, 20), (120, 20)]
    ledger = Ledger(stack["ledger"])
    given = ledger.rows(event="approval_given")
    assert given[-1].actor == "exec_approver" and given[-1].run_id == run_id
    assert ledger.rows(event="approval_requested")[-1].payload["excluded_four_eyes"] is None
    soak = [r for r in ledger.rows(event="soak_completed") if r.run_id == run_id]
    started = [r for r in ledger.rows(event="soak_started") if r.run_id == run_id]
    assert len(soak) == 1 and len(started) == 1  # resumed, not restarted
    assert soak[0].payload["watched_seconds"] >= CONF["monitor_minutes"] * 60  # the outage was not counted as watched
    assert ledger.verify() == []
    assert any("completed" in text for text in stack["slack"].texts())

    # F14: the finished run cleared and re-run by hand: refused at the gate, nothing applied twice.
    changes_before = [r.seq for r in run_rows(stack["ledger"], run_id) if r.event == "change_applied"]
    operator.clear(dag_id, run_id)
    assert operator.wait_for_end(dag_id, run_id) == "failed"
    states = operator.task_states(dag_id, run_id)
    assert states["phase_gate"] == "failed" and states["apply_change"] == "upstream_failed"
    assert states["rollback"] in ("skipped", "upstream_failed")  # never a revert of the finished change
    rows = run_rows(stack["ledger"], run_id)
    assert [r.seq for r in rows if r.event == "change_applied"] == changes_before
    assert "already changed" in next(r for r in rows if r.event == "rerun_refused").payload["reason"]
    assert pools(stack["target"]) == [(120, 20), (120, 20)]
    assert ledger.verify() == []  # the first run's evidence untouched


def test_unanswered_approval_times_out_and_changes_nothing(stack: dict[str, Any], airflow_db: Path) -> None:
    """F12: the HITL timeout is enforced by the real triggerer; nothing is snapshotted or changed."""
    airflow: AirflowStack = stack["airflow"]

    def six_second_approval(plan: dict[str, Any]) -> None:
        next(p for p in plan["phases"] if p["id"] == "phase1_pool_scaling")["approval"]["timeout_minutes"] = 0.1

    # Its subject is the approval's timeout: no pre-check stands between the trigger and the question.
    dag = build_variant("accubooks", "phase1_pool_scaling", six_second_approval, checks_removed,
                        folder=scratch_dags(airflow.home))
    before = pools(stack["target"])
    operator = airflow.rest("operator")
    run_id = operator.trigger(dag.dag_id, {**form_of(dag), "pool_max": 90})
    assert operator.wait_for_end(dag.dag_id, run_id) == "failed"
    states = operator.task_states(dag.dag_id, run_id)
    assert states["approve"] == "failed" and states["apply_change"] == "upstream_failed"
    assert states["rollback"] in ("skipped", "upstream_failed")
    events = [r.event for r in run_rows(stack["ledger"], run_id)]
    assert "approval_timed_out" in events and "snapshot_taken" not in events and "change_applied" not in events
    assert pools(stack["target"]) == before
    assert any("timed out" in text for text in stack["slack"].texts())


def test_worker_killed_mid_change_is_rolled_back_on_every_replica(stack: dict[str, Any]) -> None:
    """F10: SIGKILL to the task process once the first replica runs the new settings (a partial
    change); apply_change is never retried (retries=0), the rollback restores every replica."""
    airflow: AirflowStack = stack["airflow"]
    # Its subject is the change step: the pre-checks and the verification have their own tests.
    dag = build_variant("accubooks", "phase1_pool_scaling", checks_removed, latency_cannot_decide,
                        folder=scratch_dags(airflow.home))
    dag_id = dag.dag_id
    operator, approver = airflow.rest("operator"), airflow.rest("exec_approver")
    before = pools(stack["target"])
    run_id = operator.trigger(dag_id, {**form_of(dag), "pool_max": 140})
    approver.wait_for_approval(dag_id, run_id, "approve")
    assert approver.answer(dag_id, run_id, "approve", params=REVIEWED).status_code == 200
    ti_id = operator.task_instance(dag_id, run_id, "apply_change", wait_for="running")["id"]
    stack["target"].wait_for_pool(0, (140, 20))
    assert kill_task_process(ti_id) == 1
    assert operator.wait_for_end(dag_id, run_id) == "failed"
    states = operator.task_states(dag_id, run_id)
    assert states["apply_change"] == "failed" and states["rollback"] == "failed"  # rollback fails the run on purpose
    assert pools(stack["target"]) == before
    events = [r.event for r in run_rows(stack["ledger"], run_id)]
    assert "change_applied" not in events and events.count("rollback_completed") == 1
    assert Ledger(stack["ledger"]).verify() == []
