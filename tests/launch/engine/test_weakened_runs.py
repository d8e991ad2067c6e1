"""A trigger form that weakens the plan makes a weakened run: recorded, marked, and never counted by
the next phase's order gate. Short windows belong in a plan marked ``mode: demo``; ``plan check``
refuses them (and the replayed beta) in any other plan. Phase 4 judges only a beta that ran its days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from include.launch.core.errors import PlanError
from include.launch.engine import steps
from include.launch.evidence.ledger import Event, Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plan.loader import merge, parse_plan
from include.launch.plugins.checks.catalog import BetaElapsedParams
from include.launch.spec.phase import build_phase_spec
from include.launch.spec.weakened import weakenings
from tests.harness.checks import registered_check

beta_elapsed = registered_check("beta_elapsed")  # through the registry: the mutant reaches it

PLANS = Path(__file__).resolve().parents[3] / "include" / "plans"


def _context(run_id: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"run_id": run_id, "params": params or {}, "ti": SimpleNamespace(task_id="pre_checks.phase_order"),
            "dag_run": SimpleNamespace(triggering_user_name="operator")}


def test_every_weaker_form_value_is_named_and_the_plans_own_values_are_not() -> None:
    spec = build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks")
    assert weakenings(spec, dict(spec.trigger_params)) == []
    assert weakenings(spec, {"monitor_minutes": 0.1, "sample_interval_seconds": 120, "rollback_watch_minutes": 0,
                             "synthetic_requests": 1, "concurrency": 10, "pool_max": 120}) == [
        "monitor_minutes 0.1 < the plan's 60", "sample_interval_seconds 120 > the plan's 60",
        "rollback_watch_minutes 0 < the plan's 15", "synthetic_requests 1 < the plan's 500"]
    assert weakenings(spec, {"monitor_minutes": 90, "sample_interval_seconds": 10}) == []  # stronger is fine


def _completed(ledger_db: str, run_id: str, weakened: list[str]) -> None:
    Ledger(ledger_db).append(Event(launch_id="accubooks", event="phase_completed", phase_id="phase1_pool_scaling",
                                   run_id=run_id, outcome="successful", payload={"weakened": weakened}))


def test_a_weakened_completion_does_not_open_the_next_phase(ledger_db: str, evidence_base: Path) -> None:
    _completed(ledger_db, "manual__short", ["monitor_minutes 0.1 < the plan's 60"])
    spec = build_phase_spec(load_plan("accubooks"), "phase2_monitoring", "accubooks")
    result = steps.phase_order(spec, _context("manual__phase2"))
    assert result.outcome.value == "failed"
    assert result.summary == ("phase 'phase1_pool_scaling' last completed in a weakened run (run manual__short: "
                              "monitor_minutes 0.1 < the plan's 60); 'phase2_monitoring' needs a completion with the "
                              "plan's own windows and load")
    _completed(ledger_db, "manual__full", [])
    opened = steps.phase_order(spec, _context("manual__phase2"))
    assert opened.outcome.value == "successful" and "manual__full" in opened.summary
    _completed(ledger_db, "manual__short_again", ["synthetic_requests 1 < the plan's 500"])  # the target now runs it
    again = steps.phase_order(spec, _context("manual__phase2"))
    assert again.outcome.value == "failed" and "manual__short_again" in again.summary


def test_the_gate_records_a_weakened_run_and_says_so_in_slack(ledger_db: str, evidence_base: Path,
                                                             slack: Any) -> None:
    spec = build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks")
    context = _context("manual__weak", {**spec.trigger_params, "monitor_minutes": 1})
    context["ti"] = SimpleNamespace(task_id="phase_gate")
    steps.phase_gate(spec, context)
    run = PhaseRun.from_context(spec, context)
    (row,) = run.own_rows("run_weakened")
    assert row.payload["weakened"] == ["monitor_minutes 1 < the plan's 60"]
    assert run.own_rows("phase_started")[0].payload["weakened"] == ["monitor_minutes 1 < the plan's 60"]
    assert any("weakened run" in text and "WEAKENED RUN: monitor_minutes 1" in text for text in slack.texts())
    from include.launch.evidence.report import run_markings

    assert run_markings(run) == ["- **WEAKENED RUN**: monitor_minutes 1 < the plan's 60; this completion does "
                                 "not open the next phase"]
    steps.release_lock(spec, context)


# --- plans written over another ------------------------------------------------------------------

def _over_accubooks(body: str) -> str:
    return f"extends: {PLANS / 'accubooks.yaml'}\n{body}"


def test_the_demo_plan_is_the_shipped_plan_with_short_windows_and_says_demo() -> None:
    demo, shipped = load_plan("accubooks_demo"), load_plan("accubooks")
    assert (demo.mode, demo.extends, shipped.mode) == ("demo", "accubooks", "production")
    assert demo.phase("phase1_pool_scaling").soak.window_minutes == 1  # type: ignore[union-attr]
    assert demo.phase("phase1_pool_scaling").approval == shipped.phase("phase1_pool_scaling").approval
    assert [p.id for p in demo.phases] == [p.id for p in shipped.phases]
    assert demo.data_model == shipped.data_model


def test_a_plan_that_extends_another_may_not_weaken_it_unless_marked_demo() -> None:
    body = "phases:\n  - id: phase2_monitoring\n    title: Monitoring, renamed\n" \
           "  - id: phase3_beta\n    soak: {window_minutes: 30, interval_seconds: 900}\n"
    with pytest.raises(PlanError) as refused:
        parse_plan(_over_accubooks(body), "weaker.yaml")
    assert refused.value.problems == [
        "phases[2]: soak.window_minutes 30 < accubooks's 60; only a plan marked mode: demo may weaken the plan it "
        "extends",
        "phases[2]: soak.interval_seconds 900 > accubooks's 300; only a plan marked mode: demo may weaken the plan it "
        "extends"]
    assert parse_plan(_over_accubooks("mode: demo\n" + body), "demo.yaml").mode == "demo"
    renamed = parse_plan(_over_accubooks("phases:\n  - id: phase2_monitoring\n    title: Renamed\n"), "ok.yaml")
    assert renamed.phase("phase2_monitoring").title == "Renamed" and renamed.mode == "production"


def test_an_extending_plan_may_not_widen_what_a_change_may_touch_unless_marked_demo() -> None:
    """The target profile is a rule too: a production plan over another may not let a change touch
    another setting, nor turn a settings phase into a release whose version may move."""
    pools = "DB_POOL_MAX, DB_POOL_MIN, DB_POOL_IDLE_TIMEOUT, DB_POOL_CONNECTION_TIMEOUT"
    body = (f"target_profile:\n  settings: [{pools}, APP_VERSION]\n  version: {{health_field: version}}\n"
            "phases:\n  - id: phase1_pool_scaling\n    release: true\n")
    with pytest.raises(PlanError) as refused:
        parse_plan(_over_accubooks(body), "wider.yaml")
    assert refused.value.problems == [
        "target_profile.settings: lets a change touch 'APP_VERSION', which 'accubooks' does not; only a plan marked "
        "mode: demo may weaken the plan it extends",
        "phases[0].release: lets the version move, which 'accubooks' does not; only a plan marked mode: demo may "
        "weaken the plan it extends"]
    rehearsal = parse_plan(_over_accubooks("mode: demo\n" + body), "demo.yaml")
    assert rehearsal.phase("phase1_pool_scaling").release and rehearsal.target_profile is not None
    assert "APP_VERSION" in rehearsal.target_profile.settings


LOOSER_RULES = """phases:
  - id: phase1_pool_scaling
    approval: {comment_min_chars: 5}
    rollback_triggers:
      - {metric: error_rate_percent, op: ">", threshold: 5, sustained_minutes: 10, severity: P0}
      - {metric: latency_p95_ms, op: ">", threshold: 1000, sustained_minutes: 5, severity: P1}
      - {metric: latency_regression_percent, op: ">", threshold: 20, severity: P1,
         when: {metric: latency_regression_ms, op: ">", threshold: 25}}
      - {metric: connection_churn_count, op: ">", threshold: 100, sustained_minutes: 1, severity: P1}
      - {metric: db_cpu_percent, op: ">", threshold: 90, sustained_minutes: 5, severity: P1}
      - {metric: active_incidents_count, op: ">", threshold: 0, severity: P0}
scorecards:
  - id: beta_daily_metrics
    days: 7
"""


def test_an_extending_plan_may_not_drop_or_loosen_a_rule_unless_marked_demo() -> None:
    """Thresholds, durations, severities, checks and the approval are rules too: a production plan
    written over another keeps each of them at least as strict."""
    shipped = load_plan("accubooks").phase("phase1_pool_scaling")
    body = LOOSER_RULES.replace("scorecards:", "    pre_checks:\n      - {kind: database_health}\nscorecards:")
    with pytest.raises(PlanError) as refused:
        parse_plan(_over_accubooks(body), "looser.yaml")
    problems = [problem.removesuffix("; only a plan marked mode: demo may weaken the plan it extends")
                for problem in refused.value.problems]
    assert "phases[0]: rollback_triggers: error_rate_percent > 5 is looser than accubooks's error_rate_percent > 1" \
        in problems
    assert "phases[0]: rollback_triggers: error_rate_percent > 5 sustained 10 min > accubooks's 5 min" in problems
    assert "phases[0]: approval.comment_min_chars 5 < accubooks's 20" in problems
    assert "scorecards[0]: days 7 < accubooks's 14" in problems
    dropped = {c.name or c.kind for c in shipped.pre_checks} - {"database_health"}
    assert dropped
    assert all(f"phases[0]: pre_checks: accubooks's check {name} is missing" in problems for name in dropped)
    # A 7-day scorecard cannot give the review its 12 measured days: refused on its own account.
    coverage = "phases[3].change.params.min_days_measured: 12 is more days than scorecard 'beta_daily_metrics' runs (7)"
    assert coverage in refused.value.problems
    assert all(problem.endswith("; only a plan marked mode: demo may weaken the plan it extends")
               for problem in refused.value.problems if problem != coverage)
    demo = body.replace("    days: 7\n", "    days: 12\n")  # the demo may shorten the beta to the review's coverage
    assert parse_plan(_over_accubooks("mode: demo\n" + demo), "demo.yaml").mode == "demo"


@pytest.mark.parametrize(("rule", "reason"), [
    ('{metric: db_cpu_percent, op: ">", threshold: 90, sustained_minutes: 5, severity: P2}',
     "rollback_triggers: db_cpu_percent > 90 raises P2, accubooks's P1"),
    ('{metric: db_cpu_percent, op: ">", threshold: 90, sustained_minutes: 5, severity: P1,'
     ' when: {metric: error_rate_percent, op: ">", threshold: 1}}',
     "rollback_triggers: db_cpu_percent > 90 when error_rate_percent > 1 is judged only when error_rate_percent > 1, "
     "accubooks's always"),
    ('{metric: db_cpu_percent, op: ">=", threshold: 90, sustained_minutes: 5, severity: P1}',
     "accubooks's db_cpu_percent > 90 is missing"),
    ('{metric: db_cpu_percent, op: ">", threshold: 95, sustained_minutes: 5, severity: P1}',
     "rollback_triggers: db_cpu_percent > 95 is looser than accubooks's db_cpu_percent > 90"),
])
def test_each_way_of_loosening_a_trigger_is_named(rule: str, reason: str) -> None:
    shipped_cpu = '{metric: db_cpu_percent, op: ">", threshold: 90, sustained_minutes: 5, severity: P1}'
    body = LOOSER_RULES.replace(shipped_cpu, rule).replace("threshold: 5, sustained_minutes: 10",
                                                           "threshold: 1, sustained_minutes: 5")
    with pytest.raises(PlanError) as refused:
        parse_plan(_over_accubooks(body), "looser.yaml")
    assert any(reason in problem for problem in refused.value.problems), refused.value.problems


def test_an_extending_plan_may_tighten_every_rule() -> None:
    body = (LOOSER_RULES.replace("threshold: 5, sustained_minutes: 10", "threshold: 0.5, sustained_minutes: 1")
            .replace("{comment_min_chars: 5}", "{comment_min_chars: 40}").replace("days: 7", "days: 21")
            .replace("threshold: 90, sustained_minutes: 5", "threshold: 80, sustained_minutes: 2")
            .replace("severity: P1}", "severity: P0}"))
    plan = parse_plan(_over_accubooks(body), "stricter.yaml")
    trigger = plan.phase("phase1_pool_scaling").rollback_triggers[0]
    assert (trigger.threshold, trigger.sustained_minutes, plan.scorecards[0].days) == (0.5, 1, 21)


def test_a_replayed_beta_is_a_demo_allowance_only() -> None:
    text = (PLANS / "accubooks_demo.yaml").read_text().replace("mode: demo", "mode: production")
    with pytest.raises(PlanError) as refused:
        parse_plan(text.replace("extends: accubooks", f"extends: {PLANS / 'accubooks.yaml'}"), "not_demo.yaml")
    assert ("phases[3].pre_checks[1].params.replay_allowed: accepting a replayed beta is a demo allowance; only a "
            "plan marked mode: demo may set it") in refused.value.problems


@pytest.mark.parametrize(("extends", "reason"), [
    ("no_such_plan", "extends: plan 'no_such_plan' cannot be read"),
    ("3", "extends: must name a plan"),
])
def test_a_base_that_cannot_be_read_is_named(extends: str, reason: str) -> None:
    with pytest.raises(PlanError) as refused:
        parse_plan(f"extends: {extends}\nmode: demo\n", "x.yaml")
    assert refused.value.problems[0].startswith(reason)


def test_an_extends_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(f"extends: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(PlanError, match="a cycle"):
        load_plan(tmp_path / "a.yaml")


def test_merge_takes_mappings_key_by_key_and_lists_of_ids_entry_by_entry() -> None:
    base = {"a": {"x": 1, "y": 2}, "phases": [{"id": "p1", "v": 1}, {"id": "p2", "v": 2}], "l": [1, 2]}
    over = {"a": {"y": 3}, "phases": [{"id": "p2", "v": 20}, {"id": "p3", "v": 3}], "l": [9]}
    assert merge(base, over) == {"a": {"x": 1, "y": 3}, "l": [9],
                                 "phases": [{"id": "p1", "v": 1}, {"id": "p2", "v": 20}, {"id": "p3", "v": 3}]}


# --- Phase 4: a beta that ran its days ------------------------------------------------------------

def _beta_started(ledger_db: str, start: datetime) -> PhaseRun:
    Ledger(ledger_db).append(Event(launch_id="accubooks", event="beta_started", phase_id="phase3_beta",
                                   run_id="manual__beta", outcome="successful", payload={"start": start.isoformat()}))
    spec = build_phase_spec(load_plan("accubooks"), "phase4_review", "accubooks")
    return PhaseRun(spec=spec, run_id="manual__review", task_id="pre_checks.beta_elapsed")


def test_a_beta_whose_days_have_not_all_happened_is_refused_by_name(ledger_db: str) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    run = _beta_started(ledger_db, now - timedelta(days=5))
    result = beta_elapsed(run, BetaElapsedParams(scorecard="beta_daily_metrics"), now)
    assert result.outcome.value == "failed"
    assert result.summary == ("the 14-day window opened 2026-03-05 and ends 2026-03-19 00:00 UTC, 8 day(s) 12 h from "
                              "now: the review cannot judge days that have not happened")
    replay = beta_elapsed(run, BetaElapsedParams(scorecard="beta_daily_metrics", replay_allowed=True), now)
    assert replay.outcome.value == "successful" and replay.summary.startswith("REPLAY: ")
    assert replay.measured["replay"] is True


def test_a_beta_that_ran_its_days_passes(ledger_db: str) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    run = _beta_started(ledger_db, now - timedelta(days=15))
    result = beta_elapsed(run, BetaElapsedParams(scorecard="beta_daily_metrics"), now)
    assert result.outcome.value == "successful", result.summary
    assert result.measured["replay"] is False


def test_a_beta_that_never_started_or_an_unknown_scorecard_fails(ledger_db: str) -> None:
    spec = build_phase_spec(load_plan("accubooks"), "phase4_review", "accubooks")
    run = PhaseRun(spec=spec, run_id="manual__review", task_id="pre_checks.beta_elapsed")
    never = beta_elapsed(run, BetaElapsedParams(scorecard="beta_daily_metrics"))
    assert never.outcome.value == "failed" and "no beta_started row" in never.summary
    unknown = beta_elapsed(run, BetaElapsedParams(scorecard="nope"))
    assert unknown.outcome.value == "error" and "no scorecard 'nope'" in unknown.summary


def test_the_status_table_says_weakened_and_demo(ledger_db: str) -> None:
    from include.launch.evidence.status import phase_statuses, status_markdown

    ledger = Ledger(ledger_db)
    for event, payload in (("phase_started", {"weakened": ["monitor_minutes 1 < the plan's 60"],
                                              "plan_mode": "demo"}), ("phase_completed", {})):
        ledger.append(Event(launch_id="accubooks", event=event, phase_id="phase1_pool_scaling",
                            run_id="manual__weak", outcome="successful" if payload == {} else "", payload=payload))
    row = phase_statuses(load_plan("accubooks"), ledger)[0]
    assert row.status == "COMPLETE"
    assert row.outcome == ("DEMO: success, WEAKENED RUN (monitor_minutes 1 < the plan's 60): does not open the "
                           "next phase")
    assert status_markdown(load_plan("accubooks_demo"), ledger).startswith(
        "# AccuBooks v1.0.0 -> v1.0.1: launch status (DEMO PLAN: not evidence for production)")


def test_a_demo_plans_report_names_the_plan_it_extends(ledger_db: str) -> None:
    from include.launch.evidence.report import run_markings

    spec = build_phase_spec(load_plan("accubooks_demo"), "phase1_pool_scaling", "accubooks_demo")
    run = PhaseRun(spec=spec, run_id="manual__demo", task_id="complete")
    assert run_markings(run) == ["- **DEMO PLAN** (over `accubooks`): shortened windows and demo allowances; not "
                                 "evidence for production"]
