"""Phase 4 over three replayed betas with known outcomes (YES, CONDITIONAL, NO), the pre-check that
names a missing day, and the executive's answer given through Airflow's REST API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.phase import build_variant
from tests.launch.phase4.replay import Beta, replay


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def run_folder(base: Path) -> Path:
    runs = list((base / "phase4_review").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def decide(env: dict[str, Any], approvals: ApprovalClient, *answers: Answer) -> tuple[Any, list[Any], Path]:
    dag = build_variant("accubooks", "phase4_review")
    dag_run, results = run_dag(dag, client=approvals, answers=answers)
    return dag_run, results, run_folder(env["evidence"])


def rows(env: dict[str, Any], event: str) -> list[Any]:
    return Ledger(env["ledger"]).rows(launch_id="accubooks", phase_id="phase4_review", event=event)


def test_all_criteria_met_recommends_yes(review_env: dict[str, Any], approvals: ApprovalClient) -> None:
    replay(review_env["ledger"], Beta())
    dag_run, results, folder = decide(review_env, approvals, Answer(
        "approve", user="exec_approver", option="YES", params={"comment": "Read the three reports; all seven met."}))
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "success", states(dag_run)

    decisions = (folder / "post_beta_decisions.md").read_text()
    assert "**Recommendation: YES**" in decisions
    assert "| Proceed to the 5,000-user rollout? | YES |" in decisions
    # Scaling from the plan's rules and the deciding metrics.
    assert "| Scale forecast_workers (4 -> 16 workers)? | YES: 4 -> 16 workers |" in decisions
    assert "| Scale redis_cache (2 -> 8 GB)? | NO: 2 -> 2 GB |" in decisions
    scaling = (folder / "scaling_justifications.md").read_text()
    assert "queue_wait_p95_ms > 400" in scaling and "cache_hit_rate_percent < 80" in scaling
    assert "phase3_beta/daily_metrics_2025-06-02.json" in scaling
    # Every criterion with its value, threshold, verdict and the files it came from.
    report = (folder / "beta_completion_report.md").read_text()
    assert "7 of 7 success criteria met over 14 scored days of 14 planned" in report
    assert "measured on 14 of 14 days (plan minimum 12)" in report and "24 survey answers (plan minimum 10)" in report
    assert "phase3_beta/survey_results_day14.json" in report
    assert "phase3_beta/daily_metrics_2025-06-15.json" in report
    assert "](../../phase3_beta/charts/2025-06-15/nps_score.svg)" in report
    review = json.loads((folder / "review.json").read_text())
    assert [c["verdict"] for c in review["criteria"]] == ["pass"] * 7
    assert len(review["evidence_used"]) >= 16

    approval = (folder / "rollout_approval.md").read_text()
    assert "- Decision: **YES**" in approval
    assert "- Decided by: Executive Approver (`exec_approver`)" in approval
    assert "Read the three reports; all seven met." in approval
    assert "post_beta_decisions.md" in approval and "daily_metrics_2025-06-02.json" in approval
    decided = rows(review_env, "rollout_decided")
    assert [(r.outcome, r.actor) for r in decided] == [("YES", "exec_approver")]
    assert decided[0].payload["decided_at"]
    assert any("Rollout to 5,000 users: YES" in text for text in review_env["slack"].texts())
    assert Ledger(review_env["ledger"]).verify() == []


def test_nps_35_is_conditional_and_overriding_needs_a_reason(review_env: dict[str, Any],
                                                             approvals: ApprovalClient) -> None:
    replay(review_env["ledger"], Beta(nps=35.0))
    dag_run, results, folder = decide(
        review_env, approvals,
        Answer("approve", user="exec_approver", option="YES", params={"comment": "ship it"}),  # refused: why?
        Answer("approve", user="exec_approver", option="YES",
               params={"comment": "NPS 35 is within noise for 24 respondents; sales needs the date."}))
    assert [r.status_code for r in results] == [200, 200]
    assert dag_run.state == "success", states(dag_run)
    decisions = (folder / "post_beta_decisions.md").read_text()
    assert "**Recommendation: CONDITIONAL**" in decisions
    assert "1. Satisfaction >= 4.0, NPS >= 40: nps_score measured 35 (day 14 (2025-06-15), day-14 survey), " \
           "must reach >= 40" in decisions
    refused = rows(review_env, "decision_refused")
    assert len(refused) == 1 and "must say why" in refused[0].payload["reason"]
    approval = (folder / "rollout_approval.md").read_text()
    assert "- Decision: **YES**" in approval
    assert "- Recommendation: CONDITIONAL (the decision differs; reason below)" in approval
    assert "sales needs the date" in approval
    given = rows(review_env, "decision_given")
    assert given[-1].payload["against_recommendation"] is True


def test_integrity_incident_on_one_day_means_no(review_env: dict[str, Any], approvals: ApprovalClient) -> None:
    replay(review_env["ledger"], Beta(integrity_day=9))
    dag_run, _, folder = decide(review_env, approvals, Answer(
        "approve", user="exec_approver", option="NO", params={"comment": "Integrity first: day 9 broke the ledger."}))
    assert dag_run.state == "success", states(dag_run)
    decisions = (folder / "post_beta_decisions.md").read_text()
    assert "**Recommendation: NO**" in decisions
    assert "critical criterion missed: Zero data-integrity issues (data_integrity_issues_count measured 1" in decisions
    assert "failed on 1 day(s): 2025-06-10" in decisions
    assert "integrity/isolation incident P0 INC-" in decisions
    assert "daily_metrics_2025-06-10.json" in (folder / "beta_completion_report.md").read_text()
    assert "- Decision: **NO**" in (folder / "rollout_approval.md").read_text()
    assert [r.outcome for r in rows(review_env, "rollout_decided")] == ["NO"]


def test_an_open_p0_lets_the_review_say_no_but_refuses_a_yes(review_env: dict[str, Any],
                                                              approvals: ApprovalClient) -> None:
    """Seed 000: a P0 stops all changes. The review changes nothing in the target, so it still runs
    and may record NO; a YES while the P0 is open is refused, naming it."""
    replay(review_env["ledger"], Beta(integrity_day=9))
    dag_run, _, _ = decide(review_env, approvals, Answer(
        "approve", user="exec_approver", option="YES", params={"comment": "Ship it anyway, we fixed day 9."}))
    assert dag_run.state == "failed"
    refused = rows(review_env, "rollout_refused")
    assert refused and "rollout YES refused: open incident(s) INC-" in refused[-1].payload["reason"]
    assert "stop all changes; only NO may be recorded" in refused[-1].payload["reason"]
    assert rows(review_env, "rollout_decided") == []


def test_missing_daily_file_stops_at_the_pre_check(review_env: dict[str, Any]) -> None:
    folder = review_env["evidence"] / replay(review_env["ledger"], Beta())
    (folder / "daily_metrics_2025-06-07.json").unlink()
    (folder / "survey_results_day7.json").unlink()
    dag_run = build_variant("accubooks", "phase4_review").test()
    got = states(dag_run)
    assert got["pre_checks.evidence_present"] == "failed"
    assert got["propose"] != "success" and got["approve"] != "success"
    check = [r for r in Ledger(review_env["ledger"]).rows(event="check_result")
             if r.payload["check"] == "evidence_present"][-1]
    assert "missing date(s) 2025-06-07" in check.payload["summary"]
    assert "phase3_beta/survey_results_day7.json is missing" in check.payload["summary"]
    assert not (review_env["evidence"] / "phase4_review").exists() or not list(
        (review_env["evidence"] / "phase4_review").rglob("rollout_approval.md"))


def test_three_days_without_data_is_not_enough_data_never_met(review_env: dict[str, Any],
                                                              approvals: ApprovalClient) -> None:
    """Days 3-5 measured nothing: 11 of 14 days is under the plan's 12, so error rate, uptime and data
    integrity are NOT ENOUGH DATA although every measured day met them; integrity is critical: NO."""
    replay(review_env["ledger"], Beta(missing_days=(3, 4, 5)))
    dag_run, _, folder = decide(review_env, approvals, Answer(
        "approve", user="exec_approver", option="NO", params={"comment": "Three blind days; re-run the beta first."}))
    assert dag_run.state == "success", states(dag_run)
    review = json.loads((folder / "review.json").read_text())
    verdicts = {c["name"]: c["verdict"] for c in review["criteria"]}
    assert verdicts["Error rate < 0.1%, uptime > 99.9%"] == "not_enough_data"
    assert verdicts["Zero data-integrity issues"] == "not_enough_data"
    assert verdicts[">= 40% would pay again today"] == "pass"
    rec = review["recommendation"]
    assert rec["decision"] == "NO"
    assert ("critical criterion missed: Zero data-integrity issues (data_integrity_issues_count: not enough data, "
            "measured on 11 of 14 days (plan minimum 12)") in rec["blockers"][0]
    assert any("error_rate_percent: not enough data, measured on 11 of 14 days (plan minimum 12); 0.02 on what was "
               "measured" in m for m in rec["misses"])
    assert "NOT ENOUGH DATA" in (folder / "beta_completion_report.md").read_text()


def test_two_missing_days_are_within_coverage_but_a_thin_survey_is_not(review_env: dict[str, Any],
                                                                      approvals: ApprovalClient) -> None:
    """12 of 14 days meets the plan's minimum; 8 answers per survey is under its 10, so every survey
    criterion is a named condition (CONDITIONAL), not a pass."""
    replay(review_env["ledger"], Beta(missing_days=(3, 4), respondents=8))
    dag_run, _, folder = decide(review_env, approvals, Answer(
        "approve", user="exec_approver", option="CONDITIONAL",
        params={"comment": "Survey again with more users before the rollout."}))
    assert dag_run.state == "success", states(dag_run)
    review = json.loads((folder / "review.json").read_text())
    verdicts = {c["name"]: c["verdict"] for c in review["criteria"]}
    assert verdicts["Error rate < 0.1%, uptime > 99.9%"] == "pass"
    assert verdicts["Zero data-integrity issues"] == "pass"
    assert verdicts[">= 40% would pay again today"] == "not_enough_data"
    assert verdicts["Satisfaction >= 4.0, NPS >= 40"] == "not_enough_data"
    assert review["recommendation"]["decision"] == "CONDITIONAL"
    assert any("would_pay_again_percent: not enough data, 8 survey answers (plan minimum 10)" in c
               for c in review["recommendation"]["conditions"])


def test_paused_days_count_as_not_measured(review_env: dict[str, Any], approvals: ApprovalClient) -> None:
    """Paused on day 5 and resumed on day 8: days 6-8 judged nothing, so 11 of 14 days were measured,
    under the plan's 12; the completion report names the paused days."""
    replay(review_env["ledger"], Beta(paused=(5, 8)))
    dag_run, _, folder = decide(review_env, approvals, Answer(
        "approve", user="exec_approver", option="NO", params={"comment": "Three paused days; extend the beta first."}))
    assert dag_run.state == "success", states(dag_run)
    review = json.loads((folder / "review.json").read_text())
    assert review["beta"]["paused_days"] == ["2025-06-07", "2025-06-08", "2025-06-09"]
    error_rate = next(c for c in review["criteria"] if c["name"] == "Error rate < 0.1%, uptime > 99.9%")
    assert error_rate["verdict"] == "not_enough_data"
    assert error_rate["metrics"][0]["coverage"] == "measured on 11 of 14 days (plan minimum 12; 3 paused)"
    report = (folder / "beta_completion_report.md").read_text()
    assert "paused on 3 day(s): 2025-06-07, 2025-06-08, 2025-06-09" in report


def test_without_criteria_in_the_plan_platform_metrics_are_judged_over_every_day() -> None:
    """A review whose plan lists no criteria judges error rate and uptime over the whole beta (mean),
    data integrity on its worst day (critical), the cumulative and survey metrics at the latest value."""
    from include.launch.plan import load_plan
    from include.launch.review.analysis import default_criteria

    card = load_plan("accubooks").scorecards[0]
    how = {c.metrics[0].value: (c.over_beta, c.critical) for c in default_criteria(list(card.criteria))}
    assert how["error_rate_percent"] == ("mean", False) and how["uptime_percent"] == ("mean", False)
    assert how["data_integrity_issues_count"] == ("worst", True)
    assert how["nps_score"] == ("last", False) and how["users_with_decision_percent"] == ("last", False)
