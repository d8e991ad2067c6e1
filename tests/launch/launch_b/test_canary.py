"""The canary DAG through a real nginx: a healthy version reaches 100 % (10 -> 50 -> 100, analysed
at each step, the plan's 30 minutes shortened by the trigger form); a version whose error rate
passes 1 % under the 50 % share is rolled back and all traffic is verified back on the stable one."""

from __future__ import annotations

import json
from typing import Any

from include.demo_target.traffic import UserTraffic
from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.phase import build_variant
from tests.launch.launch_b.conftest import go_no_go_completed, states
from tests.launch.launch_b.environment import STABLE

APPROVE = [Answer("approve", user="devops_lead", params={"comment": "go/no-go signed"})]
FAST = {"canary_total_minutes": 0.2, "monitor_minutes": 0.05, "sample_interval_seconds": 2,
        "rollback_watch_minutes": 0}


def short_analysis(plan: dict[str, Any]) -> None:
    phase = next(p for p in plan["phases"] if p["id"] == "canary_launch")
    phase["change"]["params"].update(analysis_interval_seconds=2, min_requests=5)
    for check in phase["verify"]:
        check["params"]["window_seconds"] = 3


def analysis_rows(ledger_db: str) -> list[Any]:
    return [r for r in Ledger(ledger_db).rows(event="canary_analysis")]


def test_healthy_version_reaches_100_percent(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    env = launch_env["target"]
    go_no_go_completed(launch_env["ledger"])
    dag = build_variant("reconciliation", "canary_launch", short_analysis)
    with UserTraffic(env.proxy.url, env.identities(), env.jwt_secret, threads=4, pause=0.05):
        dag_run, results = run_dag(dag, client=approvals, conf={**FAST, "canary_version": "1.1.0"}, answers=APPROVE)
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "success", states(dag_run)
    passed = [(r.payload["percent"], r.outcome) for r in analysis_rows(launch_env["ledger"])]
    assert passed == [(10, "successful"), (50, "successful"), (100, "successful")]
    assert env.versions_through_proxy() == {"1.1.0": 60}
    known = json.loads(env.releases_file.read_text())["known_good"]
    assert known[-1] == "1.1.0" and STABLE in known and len(known) >= 3


def test_bad_version_rolled_back_at_50_percent(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    env = launch_env["target"]
    go_no_go_completed(launch_env["ledger"])
    dag = build_variant("reconciliation", "canary_launch", short_analysis)
    with UserTraffic(env.proxy.url, env.identities(), env.jwt_secret, threads=4, pause=0.05):
        dag_run, _ = run_dag(dag, client=approvals, conf={**FAST, "canary_version": "1.2.0"}, answers=APPROVE)
    task_states = states(dag_run)
    assert dag_run.state == "failed"
    assert task_states["apply_change"] == "failed" and task_states["rollback"] == "failed"  # failed on purpose
    rows = analysis_rows(launch_env["ledger"])
    assert [(r.payload["percent"], r.outcome) for r in rows] == [(10, "successful"), (50, "failed")]
    assert "error_rate_percent > 1" in rows[-1].payload["summary"]
    assert rows[-1].payload["values"]["error_rate_percent"] > 1
    ledger = Ledger(launch_env["ledger"])
    completed = ledger.rows(event="rollback_completed")
    assert completed and set(completed[0].payload["read_back"]["shares"]) == {STABLE}
    assert env.versions_through_proxy() == {STABLE: 60}  # all traffic back on the stable version
