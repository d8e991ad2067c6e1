"""The ledger decides: every gate kind whose record is missing or wrong stops the change or the
completion, named. Rows as a run writes them; no Airflow, so every bypass is one case here (the real
stack's bypass by hand: tests/e2e/test_gate_bypass.py)."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from include.launch.engine import ledger_gate
from include.launch.plan import parse_plan
from include.launch.plan.loader import PLANS_DIR
from include.launch.spec.phase import PhaseSpec, build_phase_spec


@dataclass
class FakeRow:
    seq: int
    event: str
    outcome: str = ""
    actor: str = "operator"
    task_id: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def row_hash(self) -> str:
        return f"hash-{self.seq}-{self.outcome}"


def spec_of(plan: str, phase_id: str, edit: Any = None) -> PhaseSpec:
    document = copy.deepcopy(yaml.safe_load((PLANS_DIR / f"{plan}.yaml").read_text()))
    if edit:
        edit(document)
    return build_phase_spec(parse_plan(yaml.safe_dump(document)), phase_id, "plan.yaml")


PHASE1 = spec_of("accubooks", "phase1_pool_scaling")
COMMENT = "reviewed the pre-checks and the change"


def run_rows(spec: PhaseSpec, *, approver: str = "exec_approver", role: str = "", skip: str = "",
             override: dict[str, Any] | None = None, freeze_measured: dict[str, Any] | None = None,
             completed: bool = True) -> list[FakeRow]:
    """A run's rows up to the change (and, with ``completed``, through the soak), minus ``skip``."""
    rows: list[FakeRow] = []

    def add(event: str, outcome: str = "", task_id: str = "", actor: str = "operator", **payload: Any) -> None:
        if task_id != skip and event != skip:
            rows.append(FakeRow(len(rows) + 1, event, outcome, actor, task_id, payload))

    for name in ["phase_order", "freeze_window", *[c.name for c in spec.pre_checks]]:
        measured = (freeze_measured or {}) if name == "freeze_window" else {}
        add("check_result", "successful", f"pre_checks.{name}", check=name, measured=measured)
    if override:
        add("freeze_override_granted", "successful", "freeze_override", actor="eng_lead", **override)
    add("approval_given", "successful", "approve", actor=approver, role=role, comment=COMMENT)
    if completed:
        add("change_applied", "successful", "apply_change")
        for check in spec.verify:
            add("check_result", "successful", f"verify.{check.name}", check=check.name)
        add("soak_completed", "successful", "sustained_monitor")
    return rows


def test_a_run_whose_gates_all_recorded_passes() -> None:
    rows = run_rows(PHASE1)
    assert ledger_gate.missing_before_change(PHASE1, rows, "operator") == []
    assert ledger_gate.missing_before_completion(PHASE1, rows, "operator", dry_run=False) == []


@pytest.mark.parametrize(("skip", "named"), [
    ("pre_checks.load_baseline", "pre_checks.load_baseline: no result in the ledger"),
    ("pre_checks.freeze_window", "pre_checks.freeze_window: no result"),
    ("approval_given", "approval: no answer in the ledger"),
], ids=["pre-check", "freeze-check", "approval"])
def test_a_gate_marked_success_by_hand_stops_the_change(skip: str, named: str) -> None:
    problems = ledger_gate.missing_before_change(PHASE1, run_rows(PHASE1, skip=skip), "operator")
    assert any(named in problem for problem in problems), problems


@pytest.mark.parametrize(("skip", "named"), [
    ("verify.synthetic_load", "verify.synthetic_load: no result"),
    ("soak_completed", "sustained_monitor: no successful soak verdict"),
    ("change_applied", "apply_change: no change_applied row"),
], ids=["verify", "soak", "change"])
def test_a_gate_marked_success_by_hand_stops_the_completion(skip: str, named: str) -> None:
    rows = run_rows(PHASE1, skip=skip)
    assert ledger_gate.missing_before_change(PHASE1, rows, "operator") == []
    problems = ledger_gate.missing_before_completion(PHASE1, rows, "operator", dry_run=False)
    assert any(named in problem for problem in problems), problems


def test_a_failed_check_marked_success_still_reads_failed() -> None:
    rows = run_rows(PHASE1)
    baseline = next(r for r in rows if r.task_id == "pre_checks.load_baseline")
    baseline.outcome = "failed"
    (problem,) = ledger_gate.missing_before_change(PHASE1, rows, "operator")
    assert "pre_checks.load_baseline: its latest result is 'failed'" in problem


@pytest.mark.parametrize(("approver", "trigger"), [("operator", "operator"), ("outsider", "operator"),
                                                    ("exec_approver", "exec_approver")],
                         ids=["not-an-approver", "unknown-user", "four-eyes"])
def test_an_answer_from_the_wrong_person_stops_the_change(approver: str, trigger: str) -> None:
    (problem,) = ledger_gate.missing_before_change(PHASE1, run_rows(PHASE1, approver=approver), trigger)
    assert problem.startswith("approval: no valid answer") and approver in problem


def test_the_engineering_lead_cannot_stand_in_for_the_executive() -> None:
    """Seed 000: written executive approval before every phase; the plan's ``required_roles``."""
    assert PHASE1.phase.approval.required_roles == ["Executive"]
    (problem,) = ledger_gate.missing_before_change(PHASE1, run_rows(PHASE1, approver="eng_lead"), "operator")
    assert problem.startswith("approval: no valid answer (answered by ['eng_lead']; it needs one of ['exec_approver']")


def test_an_approval_without_its_written_comment_does_not_count() -> None:
    rows = run_rows(PHASE1, completed=False)
    rows[-1].payload["comment"] = "ok"
    (problem,) = ledger_gate.missing_before_change(PHASE1, rows, "operator")
    assert "with a comment of at least 20 characters" in problem


def test_a_decision_is_void_when_what_it_reviewed_changed() -> None:
    review = spec_of("accubooks", "phase4_review")
    rows = run_rows(review, skip="approval_given", completed=False)
    rows.append(FakeRow(len(rows) + 1, "decision_given", "YES", "exec_approver", "approve",
                        {"comment": COMMENT, "reviewed_digest": ledger_gate.reviewed_digest(rows, {})}))
    assert ledger_gate.missing_before_change(review, rows, "operator") == []
    rows[0].outcome = "not_applicable"  # a pre-check result rewritten after the decision: another row hash
    problems = ledger_gate.missing_before_change(review, rows, "operator")
    assert any(p.startswith("approval by exec_approver is void") for p in problems), problems


def test_an_answer_before_the_pre_checks_does_not_count() -> None:
    rows = run_rows(PHASE1, completed=False)
    approval = rows.pop()
    rows.insert(0, approval)  # answered, then the pre-checks ran again (a cleared run)
    for seq, row in enumerate(rows, start=1):
        row.seq = seq
    (problem,) = ledger_gate.missing_before_change(PHASE1, rows, "operator")
    assert "after the pre-checks" in problem


SIGNOFF = spec_of("reconciliation", "go_no_go")


def signoff_rows(signers: list[tuple[str, str]]) -> list[FakeRow]:
    rows = run_rows(SIGNOFF, skip="approval_given", completed=False)
    for user, role in signers:
        rows.append(FakeRow(len(rows) + 1, "approval_given", "successful", user, f"approve_{role}",
                            {"role": role, "comment": COMMENT}))
    return rows


def test_each_signoff_needs_its_own_role_and_person() -> None:
    roles = SIGNOFF.phase.approval.signoff_roles
    holders = {role: next(a.id for a in SIGNOFF.phase.approval.approvers if a.role == role) for role in roles}
    good = signoff_rows([(holders[role], role) for role in roles])
    assert ledger_gate.missing_before_change(SIGNOFF, good, "operator") == []
    one_person = signoff_rows([(holders[roles[0]], role) for role in roles])
    problems = ledger_gate.missing_before_change(SIGNOFF, one_person, "operator")
    assert len(problems) == len(roles) - 1 and all("sign-off: no valid answer" in p for p in problems)
    missing = signoff_rows([(holders[role], role) for role in roles[:-1]])
    assert ledger_gate.missing_before_change(SIGNOFF, missing, "operator") == [
        f"{roles[-1]} sign-off: no answer in the ledger (the approval task did not ask anyone)"]


REQUESTED = {"window": "month_end_close", "override_requested": True}


def test_a_requested_freeze_override_must_be_granted_by_the_windows_people() -> None:
    problems = ledger_gate.missing_before_change(PHASE1, run_rows(PHASE1, freeze_measured=REQUESTED), "operator")
    assert problems and "freeze override: the pre-check asked for one in 'month_end_close'" in problems[0]
    two = {"window": "month_end_close", "approved_by": ["eng_lead", "exec_approver"]}
    assert ledger_gate.missing_before_change(PHASE1, run_rows(PHASE1, freeze_measured=REQUESTED, override=two),
                                             "operator") == []
    one = {"window": "month_end_close", "approved_by": ["eng_lead"]}  # the plan asks for a second person
    assert ledger_gate.missing_before_change(PHASE1, run_rows(PHASE1, freeze_measured=REQUESTED, override=one),
                                             "operator")
    own = {"window": "month_end_close", "approved_by": ["eng_lead", "exec_approver"]}
    assert ledger_gate.missing_before_change(PHASE1, run_rows(PHASE1, freeze_measured=REQUESTED, override=own),
                                             "eng_lead")  # the requester among the approvers


def test_a_dry_run_completes_on_its_checks_and_approval() -> None:
    rows = run_rows(PHASE1, completed=False)
    assert ledger_gate.missing_before_completion(PHASE1, rows, "operator", dry_run=True) == []
    assert ledger_gate.missing_before_completion(PHASE1, rows, "operator", dry_run=False)


def test_the_status_table_shows_a_refused_bypass_as_refused(fresh_db: str) -> None:
    """The board and the demo's status table read REFUSED (red on the board, class ``s-refused``)."""
    from include.launch.evidence.ledger import Event, Ledger
    from include.launch.evidence.status import phase_statuses

    ledger = Ledger(fresh_db)
    ledger.ensure_schema()
    rows = [("phase_started", ""), (ledger_gate.REFUSED, "failed"), ("rollback_completed", "successful")]
    for event, outcome in rows:
        ledger.append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", run_id="r1", task_id="complete",
                            event=event, outcome=outcome, actor="operator", payload={}, evidence=[]))
    phase1 = phase_statuses(PHASE1.plan, ledger)[0]
    assert (phase1.status, phase1.outcome) == ("REFUSED", "gate bypass refused (P1)")


def test_an_approval_is_void_when_what_it_reviewed_changed() -> None:
    """The approval records the digest of the pre-check results and the change it was shown; a
    pre-check run again, or other form values, make it void."""
    rows = run_rows(PHASE1, completed=False)
    approval = rows[-1]
    approval.payload["reviewed_digest"] = ledger_gate.reviewed_digest(rows, {"pool_max": 120})
    assert ledger_gate.missing_before_change(PHASE1, rows, "operator", {"pool_max": 120}) == []
    assert ledger_gate.reviewed_digest(rows, {"pool_max": 120, "comment": ""}) == approval.payload["reviewed_digest"]
    problems = ledger_gate.missing_before_change(PHASE1, rows, "operator", {"pool_max": 190})
    assert len(problems) == 1 and problems[0].startswith("approval by exec_approver is void: what it reviewed")


def test_an_approval_is_void_when_a_reviewed_evidence_file_changed() -> None:
    rows = run_rows(PHASE1, completed=False)
    baseline = next(r for r in rows if r.task_id == "pre_checks.load_baseline")
    baseline.evidence = [{"path": "/evidence/pre_change_latency.json", "sha256": hashlib.sha256(b"p95 12").hexdigest()}]
    files = {"/evidence/pre_change_latency.json": b"p95 12"}
    assert ledger_gate.missing_before_change(PHASE1, rows, "operator", read=files.__getitem__) == []
    files["/evidence/pre_change_latency.json"] = b"p95 4"
    assert ledger_gate.missing_before_change(PHASE1, rows, "operator", read=files.__getitem__) == [
        "evidence /evidence/pre_change_latency.json changed since it was approved"]

    def gone(path: str) -> bytes:
        raise FileNotFoundError(path)

    (problem,) = ledger_gate.missing_before_change(PHASE1, rows, "operator", read=gone)
    assert "is unreadable since it was approved (FileNotFoundError)" in problem
