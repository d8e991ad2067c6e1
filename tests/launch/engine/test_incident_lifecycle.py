"""An incident's life: opened, acknowledged, mitigated, resolved (who, when, a note; the report
written again at each step), escalation when nobody answers in time, and what an open incident
stops: a P0 ("stop all changes") refuses every change DAG, a P1 ("pause new users") refuses the beta
enrolment; resolving it lets them run. Every refusal names its reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from include.launch.core.errors import PlanError
from include.launch.engine.incidents import BLOCKED, blocking_incidents, escalate_overdue, take_incident_step
from include.launch.evidence.incident_log import ESCALATED, IncidentStepError, incidents
from include.launch.evidence.incidents import open_incident
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.incidents import main as incidents_cli
from include.launch.plan import load_plan
from include.launch.plan.loader import _resolve, parse_plan
from include.launch.spec.phase import build_phase_spec
from tests.harness.airflow import ApprovalClient, run_dag
from tests.harness.phase import build_variant

PLAN = load_plan("accubooks")
PLAN_PATH = _resolve("accubooks")
NOTE = "pool saturation seen on the board, looking"


def opened(severity: str, phase_id: str = "phase1_pool_scaling", opened_by: str = "") -> str:
    run = PhaseRun(spec=build_phase_spec(PLAN, phase_id, PLAN_PATH), run_id="run_breach", task_id="soak")
    ref = open_incident(run, severity=severity, title="error rate 4 %", summary="error_rate_percent > 1 for 5 min",
                        opened_by=opened_by)
    return ref.path.rsplit("/", 1)[-1].removesuffix(".md")


def rows(ledger_db: str) -> list[Any]:
    return Ledger(ledger_db).rows(launch_id="accubooks")


@pytest.fixture()
def lifecycle(ledger_db: str, evidence_base: Path, slack: Any) -> dict[str, Any]:
    return {"ledger": ledger_db, "evidence": evidence_base, "slack": slack}


def test_acknowledge_mitigate_resolve_records_each_step_and_rewrites_the_report(lifecycle: dict[str, Any]) -> None:
    ident = opened("P0")
    take_incident_step(PLAN, PLAN_PATH, ident, "acknowledged", "eng_lead", NOTE)
    take_incident_step(PLAN, PLAN_PATH, ident, "mitigated", "eng_lead", "rolled the pool back to 100/10 by hand")
    done = take_incident_step(PLAN, PLAN_PATH, ident, "resolved", "exec_approver", "error rate 0.02 % for an hour",
                              root_cause="a pool of 200 exhausted max_connections")
    assert done.status == "resolved" and not done.is_open
    steps = [(r.event, r.actor, r.payload["note"]) for r in rows(lifecycle["ledger"]) if r.event.startswith("incident_")
             and r.event != "incident_opened"]
    assert steps == [("incident_acknowledged", "eng_lead", NOTE),
                     ("incident_mitigated", "eng_lead", "rolled the pool back to 100/10 by hand"),
                     ("incident_resolved", "exec_approver", "error rate 0.02 % for an hour")]
    folder = next(lifecycle["evidence"].glob("phase1_pool_scaling/*/incidents"))
    versions = sorted(p.name for p in folder.iterdir())
    assert versions == [f"{ident}.acknowledged.md", f"{ident}.md", f"{ident}.mitigated.md", f"{ident}.resolved.md"]
    first, last = (folder / f"{ident}.md").read_text(), (folder / f"{ident}.resolved.md").read_text()
    assert "**Resolved**: open" in first and "**Approved By**: not yet" in first
    assert "**Status**: RESOLVED" in last and "**Resolved**: 20" in last
    assert "**Reported By**: launch pipeline" in last and "**Reviewed By**: eng_lead" in last
    assert "**Approved By**: exec_approver" in last and "a pool of 200 exhausted max_connections" in last
    assert "acknowledged by eng_lead: " + NOTE in last and "Users affected: not attributed to tenants" in last
    assert Ledger(lifecycle["ledger"]).verify(check_files=True) == []  # every version hashed by its own row
    assert any(f"{ident} resolved by exec_approver" in text for text in lifecycle["slack"].texts())


@pytest.mark.parametrize(("steps", "step", "actor", "note", "reason"), [
    ([], "acknowledged", "eng_lead", "ok", "acknowledged needs a note of at least 10 characters"),
    ([("acknowledged", "eng_lead")], "acknowledged", "eng_lead", NOTE, "is already acknowledged (eng_lead); steps go "
                                                                         "forward only"),
    ([("mitigated", "eng_lead")], "acknowledged", "eng_lead", NOTE, "is already mitigated"),
    ([], "resolved", "outsider", "fixed it, error rate back to 0",
     "outsider may not resolve a P0: only holders of Engineering Lead, Executive may"),
    ([("resolved", "exec_approver")], "mitigated", "eng_lead", NOTE, "was resolved by exec_approver"),
    ([], "closed", "eng_lead", NOTE, "unknown step 'closed'"),
], ids=["short-note", "twice", "backwards", "wrong-role", "after-resolved", "unknown-step"])
def test_each_refused_step_names_why_and_writes_nothing(lifecycle: dict[str, Any], steps: list[tuple[str, str]],
                                                        step: str, actor: str, note: str, reason: str) -> None:
    ident = opened("P0")
    for done, by in steps:
        take_incident_step(PLAN, PLAN_PATH, ident, done, by, "fixed it, error rate back to 0")
    before = len(rows(lifecycle["ledger"]))
    with pytest.raises(IncidentStepError) as refused:
        take_incident_step(PLAN, PLAN_PATH, ident, step, actor, note)
    assert reason in str(refused.value)
    assert len(rows(lifecycle["ledger"])) == before


def test_an_unknown_incident_is_named(lifecycle: dict[str, Any]) -> None:
    with pytest.raises(IncidentStepError, match="launch 'accubooks' has no incident 'INC-missing'"):
        take_incident_step(PLAN, PLAN_PATH, "INC-missing", "acknowledged", "eng_lead", NOTE)


def test_a_p0_opened_by_hand_is_resolved_by_someone_else(lifecycle: dict[str, Any]) -> None:
    ident = opened("P0", opened_by="eng_lead")
    with pytest.raises(IncidentStepError, match=r"eng_lead opened .*; a P0 is resolved by someone else"):
        take_incident_step(PLAN, PLAN_PATH, ident, "resolved", "eng_lead", "fixed it, error rate back to 0")
    assert take_incident_step(PLAN, PLAN_PATH, ident, "resolved", "exec_approver", "checked, it holds").status \
        == "resolved"


def test_a_p1_nobody_acknowledges_is_escalated_once_with_a_page(lifecycle: dict[str, Any], pager: Any) -> None:
    ident = opened("P1")
    answered = opened("P1")
    take_incident_step(PLAN, PLAN_PATH, answered, "acknowledged", "eng_lead", NOTE)
    opened_at = next(i.opened_at for i in incidents(rows(lifecycle["ledger"])) if i.incident_id == ident)
    assert escalate_overdue(PLAN, PLAN_PATH, clock=lambda: opened_at + timedelta(minutes=14)) == []  # within 15
    later = opened_at + timedelta(minutes=16)
    assert escalate_overdue(PLAN, PLAN_PATH, clock=lambda: later) == [{"incident_id": ident, "paged": True}]
    assert escalate_overdue(PLAN, PLAN_PATH, clock=lambda: later + timedelta(minutes=30)) == []  # once
    row = next(r for r in rows(lifecycle["ledger"]) if r.event == ESCALATED)
    assert row.payload["respond_within_minutes"] == 15 and row.payload["waited_minutes"] == 16
    body = pager.messages[-1]["body"]
    assert body["dedup_key"] == f"{ident}-escalation" and body["payload"]["severity"] == "P1"
    assert "has not been acknowledged for 16 min; the plan says respond within 15 min" in body["payload"]["summary"]
    assert any(f"ESCALATED: {ident}" in text for text in lifecycle["slack"].texts())
    report = [r for r in rows(lifecycle["ledger"]) if r.event == "incident_acknowledged"]
    assert [r.payload["incident_id"] for r in report] == [answered]


def test_an_open_p0_refuses_phase2_and_resolving_it_lets_phase2_start(lifecycle: dict[str, Any],
                                                                       approvals: ApprovalClient) -> None:
    ident = opened("P0")
    dag = build_variant("accubooks", "phase2_monitoring")
    dag_run, _ = run_dag(dag, client=approvals, conf={"dry_run": True})
    assert dag_run.state == "failed"
    refusal = next(r for r in rows(lifecycle["ledger"]) if r.event == BLOCKED)
    assert refusal.payload["incidents"] == [ident] and "the plan's incident rule says 'stop all changes'" in \
        refusal.payload["reason"]
    assert not [r for r in rows(lifecycle["ledger"]) if r.event in ("phase_started", "approval_granted")]
    assert incidents_cli(["resolve", ident, "--plan", "accubooks", "--by", "exec_approver",
                          "--note", "root cause fixed, error rate 0 for an hour"]) == 0
    run = PhaseRun(spec=build_phase_spec(PLAN, "phase2_monitoring", PLAN_PATH), run_id="after")
    assert blocking_incidents(run) == ("", [])


def test_an_open_p1_pauses_new_beta_users_but_not_other_changes(lifecycle: dict[str, Any],
                                                                 approvals: ApprovalClient) -> None:
    ident = opened("P1", phase_id="phase3_beta")
    beta = PhaseRun(spec=build_phase_spec(PLAN, "phase3_beta", PLAN_PATH), run_id="enrol")
    action, found = blocking_incidents(beta)
    assert action == "pause new users" and [i.incident_id for i in found] == [ident]
    monitoring = PhaseRun(spec=build_phase_spec(PLAN, "phase2_monitoring", PLAN_PATH), run_id="m")
    assert blocking_incidents(monitoring) == ("", [])  # a P1 pauses new users; it does not stop every change
    cohort = [f"{tenant}:{tenant * 100}" for tenant in range(1, 11)]  # refused before any target is read
    dag_run, _ = run_dag(build_variant("accubooks", "phase3_beta"), client=approvals,
                         conf={"dry_run": True, "cohort": cohort})
    assert dag_run.state == "failed"
    assert "'pause new users'" in next(r for r in rows(lifecycle["ledger"]) if r.event == BLOCKED).payload["reason"]


def test_the_cli_says_refused_with_exit_1_and_an_unreadable_ledger_with_exit_2(
        lifecycle: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    ident = opened("P0")
    assert incidents_cli(["list", "--plan", "accubooks"]) == 0
    assert ident in capsys.readouterr().out
    assert incidents_cli(["resolve", ident, "--plan", "accubooks", "--by", "outsider", "--note", "x" * 12]) == 1
    assert "refused: outsider may not resolve a P0" in capsys.readouterr().err
    monkeypatch.delenv("AIRFLOW_CONN_LAUNCH_DB")
    assert incidents_cli(["list", "--plan", "accubooks"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("incidents: cannot run:") and "launch_db" in err and "Traceback" not in err


P0_ROLES = "    resolved_by_roles: [Engineering Lead, Executive]   # who may declare a P0 over\n"


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("stop all changes, notify everyone", "stop all changes, call the CEO",
     "incidents[0].actions[1]: 'call the CEO' is neither an action the engine enforces"),
    (P0_ROLES, "", "incidents[0].resolved_by_roles: a P0 is resolved only by the roles the plan names"),
    ("[Engineering Lead, Executive]", "[CFO]",
     "incidents[0].resolved_by_roles: no approver of the plan holds role 'CFO'"),
    ("  - severity: P2\n", "  - severity: P1\n", "incidents[2].severity: a second rule for P1; one rule per severity"),
], ids=["unknown-action", "p0-without-roles", "role-nobody-holds", "two-rules-one-severity"])
def test_plan_check_refuses_incident_rules_the_engine_cannot_apply(old: str, new: str, reason: str) -> None:
    text = PLAN_PATH.read_text()
    assert old in text
    with pytest.raises(PlanError) as refused:
        parse_plan(text.replace(old, new), "incidents.yaml")
    assert any(problem.startswith(reason) for problem in refused.value.problems), refused.value.problems


def test_every_shipped_incident_action_is_enforced_or_a_named_duty() -> None:
    from include.launch.plan.incident_rules import DUTIES, ENFORCED

    for name in ("accubooks", "reconciliation"):
        actions = {a.lower() for rule in load_plan(name).incidents for a in rule.actions}
        assert actions <= set(ENFORCED) | DUTIES


def test_the_step_dag_takes_the_step_as_the_signed_in_user_and_fails_loudly_when_refused(
        lifecycle: dict[str, Any], approvals: ApprovalClient) -> None:
    from include.launch.dags import incident_dags

    ident = opened("P0")
    _, step_dag, _ = incident_dags("accubooks")
    dag_run, _ = run_dag(step_dag, client=approvals, conf={"incident_id": ident, "step": "acknowledged", "note": NOTE})
    assert dag_run.state == "success"
    acknowledged = next(r for r in rows(lifecycle["ledger"]) if r.event == "incident_acknowledged")
    user = acknowledged.actor
    assert user and user == dag_run.triggering_user_name  # the signed-in user, never a typed name
    before = len(rows(lifecycle["ledger"]))
    dag_run, _ = run_dag(step_dag, client=approvals, conf={"incident_id": ident, "step": "resolved",
                                                           "note": "it is fine now, trust me"})
    assert dag_run.state == "failed" and len(rows(lifecycle["ledger"])) == before
    assert any(f"incident step failed: refused: {user} may not resolve a P0" in text
               for text in lifecycle["slack"].texts())


def test_launch_bs_p0_is_resolved_by_its_own_roles(lifecycle: dict[str, Any]) -> None:
    """Each plan's ``resolved_by_roles`` is its own: Launch B's P0 takes the CTO or the DevOps lead."""
    plan, path = load_plan("reconciliation"), _resolve("reconciliation")
    run = PhaseRun(spec=build_phase_spec(plan, "canary_launch", path), run_id="canary_breach", task_id="canary")
    ident = open_incident(run, severity="P0", title="CFUR 82 %", summary="cfur_percent < 99.5").path \
        .rsplit("/", 1)[-1].removesuffix(".md")
    with pytest.raises(IncidentStepError, match="cpo may not resolve a P0: only holders of CTO, DevOps lead may"):
        take_incident_step(plan, path, ident, "resolved", "cpo", "canary rolled back, CFUR 100 %")
    assert take_incident_step(plan, path, ident, "resolved", "cto", "canary rolled back, CFUR 100 %").status \
        == "resolved"


def test_the_response_dag_asks_in_required_actions_and_whoever_answers_takes_the_step(
        lifecycle: dict[str, Any], approvals: ApprovalClient) -> None:
    """Human in the loop: the request lists the incident's next steps; the person who answers takes
    the step as themselves; a P0 resolved by the person who opened it is refused, loudly."""
    from include.launch.dags import incident_dags
    from tests.harness.airflow import Answer

    ident = opened("P0", opened_by="eng_lead")
    response_dag = incident_dags("accubooks")[2]
    dag_run, results = run_dag(response_dag, client=approvals, conf={"incident_id": ident}, answers=[
        Answer("respond", user="exec_approver", option="acknowledged", params={"note": NOTE, "root_cause": ""})])
    assert [r.status_code for r in results] == [200], [r.body for r in results]
    assert dag_run.state == "success"
    (row,) = [r for r in rows(lifecycle["ledger"]) if r.event == "incident_acknowledged"]
    assert row.actor == "exec_approver" and row.payload["note"] == NOTE

    before = len(rows(lifecycle["ledger"]))
    dag_run, results = run_dag(response_dag, client=approvals, conf={"incident_id": ident}, answers=[
        Answer("respond", user="eng_lead", option="resolved",
               params={"note": "error rate back under 0.1 %", "root_cause": "pool exhausted"})])
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "failed" and len(rows(lifecycle["ledger"])) == before
    assert any(f"incident response failed: refused: eng_lead opened {ident}; a P0 is resolved by someone else" in text
               for text in lifecycle["slack"].texts()), lifecycle["slack"].texts()


def test_the_response_dag_refuses_an_unknown_or_resolved_incident_before_asking(
        lifecycle: dict[str, Any], approvals: ApprovalClient) -> None:
    from include.launch.dags import incident_dags

    response_dag = incident_dags("accubooks")[2]
    dag_run, _ = run_dag(response_dag, client=approvals, conf={"incident_id": "INC-nope"})
    assert dag_run.state == "failed"
    assert any("refused: launch 'accubooks' has no incident 'INC-nope'" in text for text in lifecycle["slack"].texts())


def test_a_person_opens_an_incident_from_the_cli_naming_the_tenants_it_touches(
        lifecycle: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert incidents_cli(["open", "--plan", "accubooks", "--phase", "phase3_beta", "--severity", "P1", "--by",
                          "eng_lead", "--title", "Forecasts ignore payments", "--summary",
                          "two tenants report forecasts without last week's payments", "--tenant", "4",
                          "--tenant", "9"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("INC-") and out.strip().endswith("opened by eng_lead (P1)")
    (row,) = [r for r in rows(lifecycle["ledger"]) if r.event == "incident_opened"]
    assert (row.actor, row.outcome, row.phase_id, row.payload["tenants"]) == ("eng_lead", "P1", "phase3_beta",
                                                                              ["4", "9"])
    report = next(lifecycle["evidence"].glob("phase3_beta/*/incidents/INC-*.md")).read_text()
    assert "Users affected: 2 tenant(s): 4, 9" in report


@pytest.mark.parametrize(("change", "reason"), [
    (("--phase", "phase9"), "launch 'accubooks' has no phase 'phase9'"),
    (("--severity", "P7"), "severity 'P7' has no incident rule in the plan"),
    (("--summary", "broken"), "the summary must say what was seen in at least 10 characters"),
    (("--by", "outsider"), "'outsider' is not a person the plan names"),
], ids=["unknown-phase", "unknown-severity", "short-summary", "unknown-person"])
def test_opening_an_incident_by_hand_is_refused_before_anything_is_written(
        lifecycle: dict[str, Any], capsys: pytest.CaptureFixture[str], change: tuple[str, str], reason: str) -> None:
    args = {"--phase": "phase3_beta", "--severity": "P1", "--by": "eng_lead", "--title": "Forecasts ignore payments",
            "--summary": "two tenants report forecasts without payments"}
    args[change[0]] = change[1]
    assert incidents_cli(["open", "--plan", "accubooks", *[x for kv in args.items() for x in kv]]) == 1
    assert reason in capsys.readouterr().err
    assert rows(lifecycle["ledger"]) == []
