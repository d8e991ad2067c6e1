"""Plan validation: both shipped plans pass; each kind of mistake is named with its field path."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from include.launch.core.errors import PlanError
from include.launch.plan import load_plan, parse_plan
from include.launch.plan.loader import PLANS_DIR

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
ACCUBOOKS = yaml.safe_load((PLANS_DIR / "accubooks.yaml").read_text())

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        node: Any = plan
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return mutate


def _phase1_change_settings(**settings: Any) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        plan["phases"][0]["change"]["params"]["settings"].update(settings)

    return mutate


def _without(key: str) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        plan.pop(key)

    return mutate


INVALID: list[tuple[str, Mutation, str]] = [
    ("setting_outside_the_target_profile", _phase1_change_settings(APP_VERSION="9.9.9"),
     "phases[0].change.params.settings.APP_VERSION: not a setting the target profile lets a change touch "
     "(target_profile.settings: DB_POOL_MAX, DB_POOL_MIN, DB_POOL_IDLE_TIMEOUT, DB_POOL_CONNECTION_TIMEOUT)"),
    ("settings_change_without_a_target_profile", _without("target_profile"),
     "phases[0].change: a 'env_file_rolling_restart' change needs target_profile"),
    ("version_read_two_ways", _set("target_profile.version", {"health_field": "version", "header": "X-Version"}),
     "target_profile.version: name exactly one of health_field or header"),
    ("version_read_nowhere", _set("target_profile.version", {}),
     "target_profile.version: name exactly one of health_field or header"),
    ("wrong_type", _set("phases.0.soak.window_minutes", "an hour"), "phases[0].soak.window_minutes"),
    ("unknown_key", _set("phases.0.approval.aprovers_typo", []), "phases[0].approval.aprovers_typo: unknown key"),
    ("pool_min_above_max", _phase1_change_settings(DB_POOL_MIN=300), "DB_POOL_MIN (300) must be <= DB_POOL_MAX (200)"),
    ("percentage_over_100", _set("phases.0.success_criteria.2.threshold", 170),
     "phases[0].success_criteria[2]: threshold 170 is outside 0-100"),
    ("duration_not_positive", _set("phases.0.soak.window_minutes", 0), "phases[0].soak.window_minutes"),
    ("rollback_inside_success", _set("phases.0.rollback_triggers.0.threshold", 0.05),
     "phases[0].rollback_triggers[0]: 'error_rate_percent > 0.05' would roll back while"),
    ("empty_approvers", _set("phases.0.approval.approvers", []), "phases[0].approval.approvers"),
    ("unknown_check_kind", _set("phases.0.pre_checks.1.kind", "database_vibes"),
     "phases[0].pre_checks[1].kind: unknown check kind 'database_vibes'; known kinds: "),
    ("bad_check_params", _set("phases.0.pre_checks.2.params", {"reserved_connections": -1}),
     "phases[0].pre_checks[2].params.reserved_connections"),
    ("requires_unknown_phase", _set("phases.1.requires", "phase9"),
     "phases[1].requires: 'phase9' is not an earlier phase"),
    ("unknown_metric", _set("phases.0.success_criteria.0.metric", "vibes_percent"),
     "phases[0].success_criteria[0].metric"),
    ("interval_longer_than_window", _set("phases.0.soak.interval_seconds", 7200),
     "phases[0].soak: interval_seconds (7200) must be <= window_minutes x 60"),
    ("negative_sustain", _set("phases.0.rollback_triggers.0.sustained_minutes", -5),
     "phases[0].rollback_triggers[0].sustained_minutes"),
    ("signoff_role_nobody_holds", _set("phases.0.approval.signoff_roles", ["CFO"]),
     "no approver holds role(s) ['CFO']"),
    ("bad_phase_id", _set("phases.0.id", "Phase One!"), "phases[0].id"),
    ("missing_connections", lambda plan: plan.pop("connections"), "connections: Field required"),
    ("freeze_unknown_timezone", _set("freeze_windows.0.timezone", "Mars/Olympus"),
     "freeze_windows[0].timezone: unknown timezone 'Mars/Olympus'"),
    ("freeze_naive_start", lambda plan: plan["freeze_windows"].append(
        {"name": "xmas", "start": "2026-12-24T00:00:00", "end": "2026-12-27T00:00:00Z"}),
     "freeze_windows[1].start: needs a timezone"),
    ("freeze_duplicate_name", lambda plan: plan["freeze_windows"].append(
        {"name": "month_end_close", "start": "2026-12-24T00:00:00Z", "end": "2026-12-27T00:00:00Z"}),
     "freeze_windows[1].name: duplicate freeze window name 'month_end_close'"),
    ("freeze_second_approval_one_person", _set("freeze_windows.0.override.approvers",
                                               [{"id": "eng_lead", "name": "Engineering Lead"}]),
     "freeze_windows[0].override: second_approval needs at least two approvers"),
    ("freeze_override_nobody", _set("freeze_windows.0.override.approvers", []),
     "freeze_windows[0].override.approvers"),
    ("freeze_override_zero_hours", _set("freeze_windows.0.override.max_hours", 0),
     "freeze_windows[0].override.max_hours"),
    ("manual_rollback_role_nobody_holds", _set("phases.0.rollback.manual_by_role", "CFO"),
     "phases[0].rollback.manual_by_role: no approver of this phase holds role 'CFO'"),
    ("manual_rollback_of_no_change", lambda plan: plan["phases"][3].update(
        {"rollback": {"manual_by_role": "Executive"}, "change": None}),
     "phases[3].rollback.manual_by_role: the phase changes nothing"),
    ("required_role_nobody_holds", _set("phases.0.approval.required_roles", ["CFO"]),
     "phases[0].approval: required_roles: no approver holds role(s) ['CFO']"),
    ("two_required_roles_one_answer", _set("phases.0.approval.required_roles", ["Executive", "Engineering Lead"]),
     "cannot all be met; ask each role separately with signoff_roles"),
    ("required_role_never_signed", _set("phases.0.approval.signoff_roles", ["Engineering Lead"]),
     "required_roles: ['Executive'] not in signoff_roles, so nobody would be asked"),
    ("negative_comment_length", _set("phases.0.approval.comment_min_chars", -1),
     "phases[0].approval.comment_min_chars"),
    ("approver_with_no_duty", lambda plan: plan["phases"][1]["approval"]["approvers"].append(
        {"id": "eng_lead", "name": "Engineering Lead", "role": "Engineering Lead"}),
     "phases[1].approval.approvers: eng_lead (Engineering Lead) is never asked and rolls nothing back"),
    ("freeze_override_unknown_key", _set("freeze_windows.0.override.two_people", True),
     "freeze_windows[0].override.two_people: unknown key"),
    ("change_not_applicable", _set("phases.0.change.when_unavailable", "not_applicable"),
     "phases[0].change.when_unavailable: only a check may be not applicable"),
    ("check_unavailable_unknown_word", _set("phases.0.pre_checks.8.when_unavailable", "skip"),
     "phases[0].pre_checks[8].when_unavailable"),
    ("automatic_rollback_waits_for_approval", _set("phases.0.rollback.needs_approval", True),
     "phases[0].rollback.needs_approval: an automatic rollback never waits for a person"),
    ("rollback_kind_the_change_cannot_do", _set("phases.0.rollback.kind", "pause_beta"),
     "phases[0].rollback.kind: 'pause_beta' is not what a 'env_file_rolling_restart' change does"),
    ("judged_at_end_of_nothing", _set("phases.0.soak.judged_at_end", ["db_cpu_percent"]),
     "phases[0].soak.judged_at_end[0]: no success criterion of this phase measures 'db_cpu_percent'"),
    ("scorecard_condition", _set("scorecards.0.criteria.0.when",
                                 {"metric": "nps_score", "op": ">", "threshold": 0}),
     "scorecards[0].criteria[0].when: a scorecard judges each day's value as it is"),
    ("scaling_rule_condition", _set("phases.3.change.params.decisions.0.scale_when.0.when",
                                    {"metric": "nps_score", "op": ">", "threshold": 0}),
     "scale_when: a rule here is judged on the beta's mean as it is; 'when' is not applied"),
    ("condition_on_unknown_metric", _set("phases.0.verify.1.params.criteria.2.when.metric", "vibes_ms"),
     "phases[0].verify[1].params.criteria[2].when.metric"),
    ("trigger_no_source_measures", _set("phases.0.metric_sources", [{"kind": "target_scrape"}]),
     "phases[0].rollback_triggers[3]: no metric source of this phase provides 'connection_churn_count' (sources: "
     "target_scrape); add one to metric_sources"),
    ("criterion_no_source_measures", _set("phases.2.metric_sources", [{"kind": "target_scrape"},
                                                                     {"kind": "quality_suite",
                                                                      "params": {"suite": "integrity"}}]),
     "phases[2].success_criteria[1]: no metric source of this phase provides 'uptime_percent'"),
    ("metric_gate_no_source_measures", lambda plan: plan["phases"][0]["pre_checks"][0]["params"]["criteria"].append(
        {"metric": "db_cpu_percent", "op": "<", "threshold": 50}) or _set("phases.0.metric_sources",
                                                                         [{"kind": "target_scrape"}])(plan),
     "phases[0].pre_checks[0].params.criteria[2]: no metric source of this phase provides 'db_cpu_percent'"),
    ("metric_gate_bad_criterion", _set("phases.0.pre_checks.0.params.criteria.0.op", "about"),
     "phases[0].pre_checks[0].params.criteria[0].op"),
    ("unknown_metric_source", _set("phases.0.metric_sources", [{"kind": "crystal_ball"}]),
     "phases[0].metric_sources[0].kind: unknown metric source kind 'crystal_ball'"),
    ("exporter_without_connection", _set("phases.0.metric_sources.2.params", {}),
     "phases[0].metric_sources[2].params.conn_id"),
    ("source_not_applicable", _set("phases.0.metric_sources.1.when_unavailable", "not_applicable"),
     "phases[0].metric_sources: when_unavailable belongs to checks"),
    ("trigger_longer_than_soak", _set("phases.0.soak.window_minutes", 4),
     "phases[0].rollback_triggers[0]: sustained 5 min is longer than the soak window (4 min), so "
     "'error_rate_percent > 1' could never fire"),
    ("rollback_without_pager", lambda plan: plan["connections"].pop("pager"),
     "connections.pager: phases[0], phases[2] roll back and watch the service after it; a breach in that watch "
     "pages the on-call engineer"),
    ("trigger_longer_than_rollback_watch", _set("phases.0.rollback.watch_minutes", 4),
     "phases[0].rollback_triggers[0]: sustained 5 min is longer than rollback.watch_minutes (4), so the watch "
     "after a rollback could never see 'error_rate_percent > 1' fire"),
    ("rollback_watch_judged_by_nothing", _set("phases.0.rollback_triggers",
                                              [{"metric": "active_incidents_count", "op": ">", "threshold": 0,
                                                "severity": "P0"}]),
     "phases[0].rollback.watch_minutes: no rollback trigger of this phase can judge the watch after a rollback"),
    # The post-beta review (issue 20): a review that could only say "no data" or "keep" is refused.
    ("review_of_unknown_scorecard", _set("phases.3.change.params.scorecard", "beta_vibes"),
     "phases[3].change.params.scorecard: the plan has no scorecard 'beta_vibes' to review"),
    ("review_criterion_not_scored", _set("phases.3.change.params.criteria.0.metrics", ["latency_p99_ms"]),
     "phases[3].change.params.criteria[0].metrics: scorecard 'beta_daily_metrics' scores no latency_p99_ms; the "
     "review could only say no data"),
    ("decision_on_uncollected_metric", _set("phases.3.change.params.decisions.1.scale_when.0.metric",
                                            "redis_memory_percent"),
     "phases[3].change.params.decisions[1].scale_when: the daily scorecard cannot collect redis_memory_percent; the "
     "decision could only say keep"),
    ("coverage_longer_than_the_beta", _set("phases.3.change.params.min_days_measured", 15),
     "phases[3].change.params.min_days_measured: 15 is more days than scorecard 'beta_daily_metrics' runs (14)"),
    ("coverage_not_positive", _set("phases.3.change.params.min_survey_answers", 0),
     "phases[3].change.params.min_survey_answers"),
    # The beta on any day (issue 20): somebody the plan names may pause it and resume it.
    ("beta_nobody_may_pause", _set("phases.2.change.params.pause_roles", []),
     "phases[2].change.params.pause_roles: name the roles that may pause the beta by hand; a beta nobody can "
     "pause is not under control"),
    ("beta_resume_role_nobody_holds", _set("phases.2.change.params.resume_roles", ["Chief Vibes Officer"]),
     "phases[2].change.params.resume_roles: no approver of the plan holds role 'Chief Vibes Officer'"),
]


@pytest.mark.parametrize("name", ["accubooks", "reconciliation"])
def test_shipped_plans_are_valid(name: str) -> None:
    plan = load_plan(PLANS_DIR / f"{name}.yaml")
    assert plan.launch.id == name
    assert all(phase.approval.approvers for phase in plan.phases)


def test_accubooks_plan_carries_the_documents_numbers() -> None:
    plan = load_plan("accubooks")
    phase1 = plan.phase("phase1_pool_scaling")
    assert phase1.change is not None
    assert phase1.change.params["settings"] == {
        "DB_POOL_MAX": 200, "DB_POOL_MIN": 20, "DB_POOL_IDLE_TIMEOUT": 30000, "DB_POOL_CONNECTION_TIMEOUT": 2000,
    }
    triggers = {str(t): t.sustained_minutes for t in phase1.rollback_triggers}
    assert triggers["error_rate_percent > 1"] == 5
    assert triggers["latency_p95_ms > 1000"] == 5
    assert phase1.soak is not None and phase1.soak.window_minutes == 60
    assert len(phase1.evidence_files) == 14
    assert [p.id for p in plan.phases] == ["phase1_pool_scaling", "phase2_monitoring", "phase3_beta", "phase4_review"]
    assert len(plan.scorecards[0].criteria) == 9  # seven criteria; satisfaction and NPS, integrity counted apart


def test_reconciliation_signoff_needs_four_roles() -> None:
    go = load_plan("reconciliation").phase("go_no_go")
    assert go.approval.signoff_roles == ["CPO", "CTO", "DevOps lead", "Security lead"]
    assert len({a.id for a in go.approval.approvers}) == 4


@pytest.mark.parametrize(("mutation", "expected"), [(m, e) for _, m, e in INVALID], ids=[n for n, _, _ in INVALID])
def test_invalid_plan_names_field_and_reason(mutation: Mutation, expected: str) -> None:
    document = copy.deepcopy(ACCUBOOKS)
    mutation(document)
    with pytest.raises(PlanError) as caught:
        parse_plan(yaml.safe_dump(document), "mutated.yaml")
    message = str(caught.value)
    assert message.startswith("mutated.yaml: invalid launch plan")
    assert expected in message, message
    assert "Traceback" not in message


def test_all_problems_reported_at_once() -> None:
    document = copy.deepcopy(ACCUBOOKS)
    _set("phases.0.soak.window_minutes", -1)(document)
    _set("phases.1.approval.approvers", [])(document)
    with pytest.raises(PlanError) as caught:
        parse_plan(yaml.safe_dump(document), "two.yaml")
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(("file", "expected"), [
    ("yaml_syntax.yaml", r"line \d+, column \d+: not valid YAML"),
    ("not_a_mapping.yaml", "top level must be a mapping"),
    ("does_not_exist.yaml", "file not found"),
], ids=["yaml-syntax", "not-a-mapping", "missing-file"])
def test_unreadable_plan_files(file: str, expected: str) -> None:
    with pytest.raises(PlanError, match=expected):
        load_plan(HERE / "plans_invalid" / file)


def test_plan_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="file not found"):
        load_plan(HERE / "plans_invalid" / "nope.yaml")


def _check(*files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "include.launch.plan", "check", *files],
                          capture_output=True, text=True, cwd=ROOT, check=False)


def test_cli_accepts_shipped_plans() -> None:
    result = _check("include/plans/accubooks.yaml", "include/plans/reconciliation.yaml")
    assert result.returncode == 0, result.stderr
    assert "valid plan 'accubooks' with 4 phase(s)" in result.stdout


def test_cli_rejects_invalid_plan_without_traceback(tmp_path: Path) -> None:
    document = copy.deepcopy(ACCUBOOKS)
    _set("phases.0.approval.approvers", [])(document)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    result = _check(str(bad))
    assert result.returncode == 1
    assert f"{bad}: invalid launch plan" in result.stderr
    assert "phases[0].approval.approvers" in result.stderr
    assert "Traceback" not in result.stderr


RECONCILIATION = yaml.safe_load((PLANS_DIR / "reconciliation.yaml").read_text())


def _go_no_go_check(kind: str, **params: Any) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        check = next(c for c in plan["phases"][0]["pre_checks"] if c["kind"] == kind)
        check["params"].update(params)
    return mutate


@pytest.mark.parametrize(("mutation", "expected"), [
    (_go_no_go_check("chaos", faults=["database_down", "replica_crash"]),
     ".params.faults[1]: Input should be 'database_down' or 'redis_down' (got 'replica_crash')"),
    (_go_no_go_check("secrets_present", fingerprint_secret="SIGNING_KEY"),
     "fingerprint_secret 'SIGNING_KEY' is not one of names ['JWT_SECRET', 'DATABASE_URL', 'REDIS_URL']"),
    (_go_no_go_check("secrets_present", fingerprint_field=""),
     "fingerprint_secret and fingerprint_field go together"),
], ids=["chaos-fault-it-cannot-observe", "fingerprint-of-an-unread-secret", "fingerprint-read-nowhere"])
def test_a_gate_that_could_not_measure_what_its_params_ask_is_refused(mutation: Mutation, expected: str) -> None:
    document = copy.deepcopy(RECONCILIATION)
    mutation(document)
    with pytest.raises(PlanError) as caught:
        parse_plan(yaml.safe_dump(document), "mutated.yaml")
    assert expected in str(caught.value), str(caught.value)
