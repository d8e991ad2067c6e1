"""The review over the real daily DAG's output: days 1-13 replayed fast, day 14 scored by the
daily metrics DAG itself against the running demo target (generated activity, the day-14 survey
dropped into the inbox, the integrity and isolation suites), then Phase 4 decides."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import psycopg

from include.demo_target.beta import simulate_beta, write_survey_csv
from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.phase import build_variant
from tests.harness.scorecard import build_scorecard_variant, phase_completed, run_day
from tests.launch.phase3.conftest import beta_env, target  # noqa: F401 - fixtures
from tests.launch.phase4.replay import START, TENANTS, Beta, replay


def test_review_of_the_real_daily_dag_output(beta_env: dict[str, Any],  # noqa: F811
                                             approvals: ApprovalClient) -> None:
    ledger_url, base = beta_env["ledger"], beta_env["evidence"]
    folder = base / replay(ledger_url, Beta(), write_days=13)
    with psycopg.connect(beta_env["target"].db_url) as conn:
        simulate_beta(conn, TENANTS, 14, START, seed=5)
        write_survey_csv(conn, folder / "inbox" / "survey_day14.csv", 14, TENANTS)
    daily = build_scorecard_variant("accubooks", "beta_daily_metrics")
    assert run_day(daily, START + timedelta(days=13)).state == "success"
    day14 = json.loads((folder / "daily_metrics_2025-06-15.json").read_text())
    assert day14["platform"]["source"] == "target" and day14["quality"]["integrity"]["outcome"] == "successful"
    assert json.loads((folder / "survey_results_day14.json").read_text())["file"] == "inbox/survey_day14.csv"

    phase_completed(ledger_url, "accubooks", "phase3_beta")
    dag_run, answered = run_dag(build_variant("accubooks", "phase4_review"), client=approvals, answers=[
        Answer("approve", user="exec_approver", option="YES", params={"comment": "Reviewed the real beta."})])
    assert [r.status_code for r in answered] == [200]
    assert dag_run.state == "success", {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    run = next((base / "phase4_review").iterdir())
    review = json.loads((run / "review.json").read_text())
    # The last-day criteria come from the DAG's day-14 document and the imported day-14 survey.
    nps = next(m for c in review["criteria"] for m in c["metrics"] if m["metric"] == "nps_score")
    assert nps["value"] == day14["metrics"]["nps_score"]
    assert nps["files"] == ["phase3_beta/daily_metrics_2025-06-15.json", "phase3_beta/survey_results_day14.json"]
    assert review["recommendation"]["decision"] == "YES", review["recommendation"]
    assert "- Decided by: Executive Approver (`exec_approver`)" in (run / "rollout_approval.md").read_text()
    assert [r.outcome for r in Ledger(ledger_url).rows(event="rollout_decided")] == ["YES"]
