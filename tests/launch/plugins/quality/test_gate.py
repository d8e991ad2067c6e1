"""The quality_suite check through a PhaseRun: evidence, ledger rows, compare_counts and the P0 incident."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from include.demo_target.generator import GenerationResult
from include.launch.core.vocabulary import Outcome
from include.launch.plugins.checks.catalog import QualitySuiteParams
from include.launch.plugins.checks.quality import quality_suite


def _files(base: Path, pattern: str) -> list[Path]:
    return sorted(base.rglob(pattern))


def test_clean_run_writes_json_html_and_a_ledger_row(target: Callable[..., GenerationResult], phase_run: Any,
                                                     evidence_base: Path, slack: Any) -> None:
    target()
    result = quality_suite(phase_run, QualitySuiteParams(suite="tenant_isolation"))
    assert result.outcome is Outcome.SUCCESSFUL, result.summary
    assert _files(evidence_base, "*tenant_isolation*.json") and _files(evidence_base, "*tenant_isolation*.html")
    assert "Expectation Validation Result" in _files(evidence_base, "*.html")[0].read_text()
    rows = phase_run.ledger.rows(event="quality_suite")
    assert [r.outcome for r in rows] == ["successful"] and rows[0].payload["suite"] == "tenant_isolation"
    assert not _files(evidence_base, "INC-*.md") and slack.messages == []


def test_failed_check_opens_a_p0_with_report_and_slack(target: Callable[..., GenerationResult], phase_run: Any,
                                                       evidence_base: Path, slack: Any) -> None:
    planted = target(["cross_tenant_reference"]).defects["cross_tenant_reference"]
    result = quality_suite(phase_run, QualitySuiteParams(suite="tenant_isolation"))
    assert result.outcome is Outcome.FAILED
    assert f"same_tenant_decisions_user_id: 1 violation(s), ids {planted}" in result.summary
    reports = _files(evidence_base, "INC-*.md")
    assert len(reports) == 1 and "**Severity**: P0" in reports[0].read_text()
    assert any(ref.path.endswith(reports[0].name) for ref in result.evidence)
    assert any("[P0]" in text for text in slack.texts()), slack.texts()
    assert [r.outcome for r in phase_run.ledger.rows(event="incident_opened")] == ["P0"]


def test_summary_holds_ids_never_customer_data(target: Callable[..., GenerationResult], phase_run: Any,
                                               slack: Any) -> None:
    target(["null_tenant_id", "invoice_total_mismatch"])
    result = quality_suite(phase_run, QualitySuiteParams(suite="integrity"))
    assert result.outcome is Outcome.FAILED
    assert "planted" not in result.summary and "Customer" not in result.summary
    assert "planted" not in " ".join(slack.texts())


def test_compare_counts_catches_a_deleted_entry(target: Callable[..., GenerationResult], phase_run: Any,
                                                module_db: str, slack: Any) -> None:
    target()
    before = quality_suite(phase_run, QualitySuiteParams(suite="integrity"))
    assert before.outcome is Outcome.SUCCESSFUL and before.measured["row_counts"]["journal_entries"] > 0
    with psycopg.connect(module_db) as conn:  # a whole, balanced entry vanishes: only the counts can tell
        conn.execute("DELETE FROM journal_lines WHERE entry_id = 7")
        conn.execute("DELETE FROM journal_entries WHERE id = 7")
    after = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert after.outcome is Outcome.FAILED
    findings = after.measured["findings"]
    assert [f["check"] for f in findings] == ["ledger_row_counts_unchanged"]
    assert sorted(findings[0]["ids"]) == ["journal_entries", "journal_lines"]
    assert any("[P0]" in text for text in slack.texts())


def test_compare_counts_passes_when_unchanged(target: Callable[..., GenerationResult], phase_run: Any) -> None:
    target()
    assert quality_suite(phase_run, QualitySuiteParams(suite="integrity")).outcome is Outcome.SUCCESSFUL
    after = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert after.outcome is Outcome.SUCCESSFUL, after.summary
    assert after.measured["expected_row_counts"] == after.measured["row_counts"]


def test_compare_counts_from_params(target: Callable[..., GenerationResult], phase_run: Any, slack: Any) -> None:
    target()
    phase_run.params["expected_row_counts"] = {"journal_entries": 1}
    result = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert result.outcome is Outcome.FAILED and "ids journal_entries" in result.summary


def test_compare_counts_without_snapshot_is_an_error(target: Callable[..., GenerationResult],
                                                     phase_run: Any) -> None:
    target()
    result = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert result.outcome is Outcome.ERROR and "snapshot" in result.summary
