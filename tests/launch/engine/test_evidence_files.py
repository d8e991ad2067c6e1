"""The evidence a plan lists: matched against the store by name, pattern or folder; refused when
missing at ``complete`` (this run) or before the next phase (files written after the phase DAG)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from include.launch.engine import steps
from include.launch.evidence.ledger import Event, Ledger
from include.launch.evidence.required import missing
from include.launch.evidence.store import EvidenceStore
from include.launch.plan import load_plan
from include.launch.plan.models import EvidenceFile
from include.launch.spec.phase import build_phase_spec

LISTED = [EvidenceFile(name="config_diff.txt"), EvidenceFile(name="pool_scaling_verification_[TIMESTAMP].md"),
          EvidenceFile(name="daily_metrics_[DATE].json", due="before_next_phase"), EvidenceFile(name="incidents/")]


@pytest.mark.parametrize(("names", "incidents", "absent"), [
    (["run/config_diff.txt", "run/pool_scaling_verification_20261201T101010.md"], False, []),
    (["run/pool_scaling_verification_20261201T101010.md"], False, ["config_diff.txt"]),
    (["run/config_diff.txt", "run/pool_scaling_verification_.md"], False, ["pool_scaling_verification_[TIMESTAMP].md"]),
    (["run/config_diff.txt", "run/pool_scaling_verification_1.md"], True, ["incidents/"]),
    (["run/config_diff.txt", "run/pool_scaling_verification_1.md", "run/incidents/INC-1.md"], True, []),
], ids=["all-there", "file-missing", "placeholder-needs-text", "incident-without-report", "incident-reported"])
def test_listed_files_are_matched_by_name_pattern_or_folder(names: list[str], incidents: bool,
                                                            absent: list[str]) -> None:
    assert missing(LISTED, names, due="complete", incidents_opened=incidents) == absent


def test_files_due_later_are_not_asked_for_at_complete() -> None:
    assert missing(LISTED, [], due="before_next_phase", incidents_opened=False) == ["daily_metrics_[DATE].json"]


def test_a_plain_string_is_a_file_due_at_complete() -> None:
    assert EvidenceFile.model_validate("a.json") == EvidenceFile(name="a.json", due="complete")


def phase4_order(ledger_db: str) -> steps.CheckResult:
    plan = load_plan("accubooks")
    Ledger(ledger_db).append(Event(launch_id="accubooks", event="phase_completed", phase_id="phase3_beta",
                                   run_id="manual__beta", outcome="successful"))
    context = {"run_id": "manual__review", "params": {}, "ti": SimpleNamespace(task_id="pre_checks.phase_order"),
               "dag_run": SimpleNamespace(triggering_user_name="operator")}
    return steps.phase_order(build_phase_spec(plan, "phase4_review", "accubooks"), context)


def test_the_next_phase_waits_for_the_betas_daily_evidence(ledger_db: str, evidence_base: Path) -> None:
    result = phase4_order(ledger_db)
    assert result.outcome.value == "failed"
    assert ("phase 'phase3_beta' completed, but the evidence its plan says is written after it and before "
            "'phase4_review' is missing: daily_metrics_[DATE].json, weekly_metrics_week_[N].md, "
            "user_quotes_[DATE].md, survey_results_day7.json, survey_results_day14.json") in result.summary


def test_the_next_phase_starts_once_the_beta_left_its_record(ledger_db: str, evidence_base: Path) -> None:
    store = EvidenceStore(str(evidence_base), "phase3_beta")
    for name in ("daily_metrics_2026-01-05.json", "weekly_metrics_week_1.md", "user_quotes_2026-01-05.md",
                 "survey_results_day7.json", "survey_results_day14.json"):
        store.write_text(name, "{}")
    assert phase4_order(ledger_db).outcome.value == "successful"
