"""The quality_suite check through a PhaseRun: evidence, ledger rows, compare_counts and the P0 incident."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from include.demo_target.generator import GenerationResult
from include.launch.core.vocabulary import Outcome
from include.launch.plugins.checks.catalog import QualitySuiteParams
from tests.harness.checks import registered_check

quality_suite = registered_check("quality_suite")  # through the registry: the mutant reaches it


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
    assert before.outcome is Outcome.SUCCESSFUL and before.measured["row_snapshot"]["journal_entries"]["rows"] > 0
    with psycopg.connect(module_db) as conn:  # a whole, balanced entry vanishes: only the counts can tell
        conn.execute("DELETE FROM journal_lines WHERE entry_id = 7")
        conn.execute("DELETE FROM journal_entries WHERE id = 7")
    after = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert after.outcome is Outcome.FAILED
    findings = after.measured["findings"]
    assert [f["check"] for f in findings] == ["ledger_rows_kept"]
    assert sorted(findings[0]["ids"]) == ["journal_entries", "journal_lines"]
    assert any("[P0]" in text for text in slack.texts())


def test_compare_counts_holds_while_users_write_and_still_finds_a_loss(
        target: Callable[..., GenerationResult], phase_run: Any, module_db: str, slack: Any) -> None:
    """Users issue invoices and pay them during the change (each with its balanced entry): the gate
    passes. One pre-existing invoice deleted among those writes fails it, naming both tables."""
    from decimal import Decimal

    from include.demo_target.service import queries

    target()
    assert quality_suite(phase_run, QualitySuiteParams(suite="integrity")).outcome is Outcome.SUCCESSFUL
    with psycopg.connect(module_db) as conn:
        for tenant in (1, 2, 3):
            queries.create_invoice(conn, tenant, 3, Decimal("19.99"))
            assert queries.record_payment(conn, tenant) is not None
    held = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert held.outcome is Outcome.SUCCESSFUL, held.summary
    assert held.measured["row_snapshot"]["journal_entries"]["rows"] == (
        held.measured["snapshot_before"]["journal_entries"]["rows"] + 6)
    with psycopg.connect(module_db) as conn:
        queries.create_invoice(conn, 4, 1, Decimal("5.00"))
        conn.execute("DELETE FROM invoice_lines WHERE invoice_id = 1")  # an old invoice vanishes whole
        conn.execute("DELETE FROM invoices WHERE id = 1")
    lost = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert lost.outcome is Outcome.FAILED
    assert [(f["check"], sorted(f["ids"])) for f in lost.measured["findings"]] == [
        ("ledger_rows_kept", ["invoice_lines", "invoices"])]


def test_an_account_added_during_the_change_breaks_the_unchanged_count(
        target: Callable[..., GenerationResult], phase_run: Any, module_db: str, slack: Any) -> None:
    target()
    assert quality_suite(phase_run, QualitySuiteParams(suite="integrity")).outcome is Outcome.SUCCESSFUL
    with psycopg.connect(module_db) as conn:
        conn.execute("INSERT INTO accounts (tenant_id, code, name, type) VALUES (1, '9999', 'Surprise', 'asset')")
    result = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert result.outcome is Outcome.FAILED
    assert [f["check"] for f in result.measured["findings"]] == ["row_counts_unchanged"]
    assert result.measured["findings"][0]["ids"] == ["accounts"]


def test_compare_counts_without_snapshot_is_an_error(target: Callable[..., GenerationResult],
                                                     phase_run: Any) -> None:
    target()
    result = quality_suite(phase_run, QualitySuiteParams(suite="integrity", compare_counts=True))
    assert result.outcome is Outcome.ERROR and "snapshot" in result.summary
