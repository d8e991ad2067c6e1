"""Phase 1 on a real Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor),
driven only through the REST API: the operator triggers, an approver answers, the run ends; and the
faults only a real stack can show: a scheduler restart, an approval timeout enforced by the
triggerer, a cleared run, and a worker killed mid-change (the rollback case); and the guards a person
could try to get past on the same stack: a run inside a change freeze refused, then lifted by an
override another person approves; every gate kind marked success by hand and refused; the
engineering lead's manual rollback, after which Phase 2 waits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from include.devservices.airflow_local import scratch_dags
from include.devservices.airflow_stack import AirflowStack
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.runtime import run_folder
from tests.e2e.helpers import CONF, form_of, pools, run_rows, wait_for_task_state
from tests.harness.answers import REVIEWED
from tests.harness.faults import kill_task_process
from tests.harness.latency import latency_cannot_decide
from tests.harness.phase import (
    build_variant,
    change_only,
    checks_removed,
    dag_from_plan_file,
    freeze_covering_now,
    only_the_load_gates,
    own_launch_id,
    phase1_conf,
    plan_file_of,
)

pytestmark = pytest.mark.serial  # a whole Airflow: run after the parallel tests (see Makefile)


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

JUSTIFICATION = "Month-end invoices time out: the pool must grow before the close."


def test_inside_a_freeze_refused_then_completed_with_an_override(stack: dict[str, Any]) -> None:
    """The freeze window holds now by the plan variant (never by the calendar or a switch): without
    a justification the run is refused with the window, its end and how to ask; with one, the
    operator may not approve it, another person does, and the run completes with the override in
    the ledger, in Slack and in the phase report (two people: tests/launch/engine/test_freeze_override_dag.py)."""
    airflow: AirflowStack = stack["airflow"]
    # The freeze's path through the real stack: the built-in gates, the override, the approval, the
    # change and its report; the load gates and the soak have tests of their own.
    dag = build_variant("accubooks", "phase1_pool_scaling", change_only, freeze_covering_now(second_approval=False),
                        folder=scratch_dags(airflow.home))
    operator = airflow.rest("operator")
    conf = form_of(dag)
    refused = operator.trigger(dag.dag_id, {**conf, "pool_max": 110})
    assert operator.wait_for_end(dag.dag_id, refused) == "failed"
    assert operator.task_states(dag.dag_id, refused)["pre_checks.freeze_window"] == "failed"
    summary = next(r for r in run_rows(stack["ledger"], refused)
                   if r.event == "check_result" and r.payload["check"] == "freeze_window").payload["summary"]
    assert "inside change freeze test_freeze" in summary and "freeze_override_justification" in summary

    eng_lead, executive = airflow.rest("eng_lead"), airflow.rest("exec_approver")
    run_id = operator.trigger(dag.dag_id, {**conf, "pool_max": 110, "freeze_override_justification": JUSTIFICATION})
    eng_lead.wait_for_approval(dag.dag_id, run_id, "freeze_override")
    assert operator.answer(dag.dag_id, run_id, "freeze_override").status_code == 403  # the requester may not
    assert eng_lead.answer(dag.dag_id, run_id, "freeze_override", params={"comment": "low risk"}).status_code == 200
    executive.wait_for_approval(dag.dag_id, run_id, "approve")
    assert executive.answer(dag.dag_id, run_id, "approve", params=REVIEWED).status_code == 200
    assert operator.wait_for_end(dag.dag_id, run_id) == "success", operator.task_states(dag.dag_id, run_id)
    assert pools(stack["target"]) == [(110, 20), (110, 20)]

    rows = run_rows(stack["ledger"], run_id)
    (grant,) = [r for r in rows if r.event == "freeze_override_granted"]
    assert grant.payload["approved_by"] == ["eng_lead"] and grant.payload["requested_by"] == "operator"
    assert any(r.event == "freeze_rechecked" for r in rows)  # checked again right before the change
    assert any("overridden for this run" in text for text in stack["slack"].texts())
    (report,) = (stack["evidence"] / "phase1_pool_scaling" / run_folder(run_id)).glob("pool_scaling_verification_*.md")
    text = report.read_text()
    assert "## Change freeze" in text and "Freeze override for phase1_pool_scaling: test_freeze (" in text
    assert f'"{JUSTIFICATION}"; approved by eng_lead at' in text
    assert Ledger(stack["ledger"]).verify() == []


def _bypass_rows(ledger_url: str, run_id: str) -> list[Any]:
    return [r for r in run_rows(ledger_url, run_id) if r.event == "gate_bypass_refused"]


def _executive_and_lead_sign(plan: dict[str, Any]) -> None:
    """Phase 1 with two sign-offs, as Launch B's go/no-go has four: the executive's and the lead's."""
    plan["phases"][0]["approval"]["signoff_roles"] = ["Executive", "Engineering Lead"]


def _a_pre_check_that_fails(plan: dict[str, Any]) -> None:
    plan["phases"][0]["pre_checks"] = [{"kind": "document_present", "name": "runbook",
                                        "params": {"path": "pre_launch/never_written.md"}}]


def _no_load_baseline(plan: dict[str, Any]) -> None:
    """The verification's load runs until it is marked success; the baseline before the change would
    run the same 50 000 requests to the end first (the trigger form sets both), for nothing here."""
    phase = plan["phases"][0]
    phase["pre_checks"] = [c for c in phase["pre_checks"] if c.get("name") != "load_baseline"]


def test_every_gate_kind_marked_success_by_hand_is_refused(stack: dict[str, Any]) -> None:
    """Five runs at once, each with one gate marked success through the REST API (what the UI's
    "Mark as" does): the approval and the freeze override while they wait for a person, one of two
    sign-offs, a failed pre-check (then "Clear, only failed" to resume past it), and a running
    verification plus the soak after it. No gate's row is in the ledger, so snapshot_before refuses
    before anything is touched, or complete refuses and rolls the change back; each refusal is a P1
    row naming the gate, and Slack hears it."""
    airflow: AirflowStack = stack["airflow"]
    folder = scratch_dags(airflow.home)
    operator = airflow.rest("operator")
    before = pools(stack["target"])

    def variant(*edits: Any) -> Any:  # each its own launch: five locks, never one run waiting for another
        return build_variant("accubooks", "phase1_pool_scaling", own_launch_id, *edits, folder=folder)

    dags = {"approval": variant(checks_removed), "override": variant(checks_removed, freeze_covering_now(False)),
            "signoff": variant(checks_removed, _executive_and_lead_sign),
            "pre_check": variant(checks_removed, _a_pre_check_that_fails),
            "verify_soak": variant(only_the_load_gates, latency_cannot_decide, _no_load_baseline)}
    conf = {**phase1_conf(monitor_minutes=5, sample_interval_seconds=3), "synthetic_requests": 50_000,
            "concurrency": 2, "freeze_override_justification": JUSTIFICATION}
    runs = {name: operator.trigger(dag.dag_id, {k: v for k, v in conf.items() if k in dag.params} | {"pool_max": 130})
            for name, dag in dags.items()}

    def mark_when(name: str, task_id: str, state: str) -> None:
        rest, dag_id, run_id = airflow.rest("operator"), dags[name].dag_id, runs[name]
        if state == "waiting":
            rest.wait_for_approval(dag_id, run_id, task_id, reading_seconds=3)
        else:
            wait_for_task_state(rest, dag_id, run_id, task_id, state)
        assert rest.mark(dag_id, run_id, task_id).status_code == 200

    def approve(name: str, task_id: str = "approve", person: str = "exec_approver") -> None:
        rest = airflow.rest(person)
        rest.wait_for_approval(dags[name].dag_id, runs[name], task_id)
        assert rest.answer(dags[name].dag_id, runs[name], task_id, params=REVIEWED).status_code == 200

    def resume_past_failed_pre_check() -> None:
        rest = airflow.rest("operator")
        assert rest.wait_for_end(dags["pre_check"].dag_id, runs["pre_check"]) == "failed"
        mark_when("pre_check", "pre_checks.runbook", "failed")
        rest.clear_failed(dags["pre_check"].dag_id, runs["pre_check"])
        approve("pre_check")

    def verify_then_soak() -> None:
        approve("verify_soak")
        mark_when("verify_soak", "verify.synthetic_load", "running")
        mark_when("verify_soak", "sustained_monitor", "up_for_reschedule")

    people = {  # what the people do to each run, each run at its own pace (one thread each)
        "approval": lambda: mark_when("approval", "approve", "waiting"),
        "override": lambda: (mark_when("override", "freeze_override", "waiting"), approve("override")),
        "signoff": lambda: (mark_when("signoff", "approve_executive", "waiting"),
                            approve("signoff", "approve_engineering_lead", "eng_lead")),
        "pre_check": resume_past_failed_pre_check,
        "verify_soak": verify_then_soak,
    }
    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        for name, future in {name: pool.submit(act) for name, act in people.items()}.items():
            try:
                future.result(timeout=600)
            except Exception as exc:  # what went wrong in that run's script, named
                raise AssertionError(f"{name}: {exc!r}") from exc

    refused_at = {"approval": ("snapshot_before", "approval: no answer in the ledger"),
                  "override": ("snapshot_before", "freeze override: the pre-check asked for one in 'test_freeze'"),
                  "signoff": ("snapshot_before", "Executive sign-off: no answer in the ledger"),
                  "pre_check": ("snapshot_before", "pre_checks.runbook: its latest result is 'failed'"),
                  "verify_soak": ("complete", "verify.synthetic_load: no result in the ledger")}
    for name, (task_id, named) in refused_at.items():
        dag_id, run_id = dags[name].dag_id, runs[name]
        assert operator.wait_for_end(dag_id, run_id) == "failed", name
        assert operator.task_states(dag_id, run_id)[task_id] == "failed", (name, operator.task_states(dag_id, run_id))
        (refused,) = _bypass_rows(stack["ledger"], run_id)
        assert refused.payload["severity"] == "P1" and named in refused.payload["summary"], (name, refused.payload)
        events = [r.event for r in run_rows(stack["ledger"], run_id)]
        assert "phase_completed" not in events, name
        if task_id == "snapshot_before":
            assert "snapshot_taken" not in events and "change_applied" not in events, name
    verify_soak = _bypass_rows(stack["ledger"], runs["verify_soak"])[0].payload["summary"]
    assert "sustained_monitor: no successful soak verdict" in verify_soak  # both gates named at once
    assert "rollback_completed" in [r.event for r in run_rows(stack["ledger"], runs["verify_soak"])]
    assert pools(stack["target"]) == before
    texts = stack["slack"].texts()
    assert sum("[P1]" in text and "refused" in text for text in texts) >= len(refused_at)


def test_the_engineering_lead_rolls_back_a_completed_phase_and_phase2_waits(stack: dict[str, Any]) -> None:
    """Seed 000 on the real stack: Phase 1 completes; the engineering lead (alone, no approval) rolls
    it back from the launch's manual-rollback DAG; the operator may not; Phase 2's order gate refuses."""
    airflow: AirflowStack = stack["airflow"]
    folder = scratch_dags(airflow.home)
    phase1 = build_variant("accubooks", "phase1_pool_scaling", own_launch_id, change_only, checks_removed,
                           folder=folder)
    plan_file = plan_file_of(phase1, folder)
    rollback = dag_from_plan_file(plan_file, "manual_rollback_dag(PLAN)", "rollback")
    phase2 = dag_from_plan_file(plan_file, "phase_dag(PLAN, 'phase2_monitoring')", "phase2")
    operator, executive, lead = airflow.rest("operator"), airflow.rest("exec_approver"), airflow.rest("eng_lead")
    before = pools(stack["target"])
    run_id = operator.trigger(phase1.dag_id, {"pool_max": 125, "pool_min": 20, "rollback_watch_minutes": 0})
    executive.wait_for_approval(phase1.dag_id, run_id, "approve")
    assert executive.answer(phase1.dag_id, run_id, "approve", params=REVIEWED).status_code == 200
    assert operator.wait_for_end(phase1.dag_id, run_id) == "success"
    assert pools(stack["target"]) == [(125, 20), (125, 20)]

    ask = {"phase": "phase1_pool_scaling", "reason": "Invoices slowed down after the pool change."}
    refused = operator.trigger(rollback.dag_id, ask)
    assert operator.wait_for_end(rollback.dag_id, refused) == "failed"  # only the Engineering Lead
    assert pools(stack["target"]) == [(125, 20), (125, 20)]
    undone = lead.trigger(rollback.dag_id, ask)
    assert lead.wait_for_end(rollback.dag_id, undone) == "success"
    assert pools(stack["target"]) == before
    rows = run_rows(stack["ledger"], undone)
    (done,) = [r for r in rows if r.event == "manual_rollback_completed"]
    assert done.actor == "eng_lead" and done.payload["of_run"] == run_id
    assert not [r for r in rows if r.event.startswith("approval")]  # alone, as the plan allows

    waiting = operator.trigger(phase2.dag_id, {})
    assert operator.wait_for_end(phase2.dag_id, waiting) == "failed"
    order = next(r for r in run_rows(stack["ledger"], waiting)
                 if r.event == "check_result" and r.payload["check"] == "phase_order")
    assert order.outcome == "failed" and "was rolled back by hand by eng_lead" in order.payload["summary"]
    assert Ledger(stack["ledger"]).verify() == []
