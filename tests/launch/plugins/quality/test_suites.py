"""Each planted defect trips exactly its own expectation, naming the planted id; clean data passes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from include.demo_target.generator import DEFECTS, GenerationResult
from include.launch.core.vocabulary import Outcome
from include.launch.plugins.quality.checks import SUITES, Check, suite_checks
from include.launch.plugins.quality.model import DataModel
from include.launch.plugins.quality.runner import evaluate

# The one expectation meant for each planted defect.
MEANT_FOR = {
    "unbalanced_entry": "entries_balance",
    "orphan_line": "no_orphans_journal_lines_entry_id",
    "cross_tenant_reference": "same_tenant_decisions_user_id",
    "null_tenant_id": "tenant_not_null_invoices",
    "duplicate_id": "unique_journal_entries_id",
    "invoice_total_mismatch": "totals_invoices_total_amount",
}


def test_every_defect_has_an_expectation() -> None:
    assert set(MEANT_FOR) == set(DEFECTS)


def test_clean_database_passes_both_suites(target: Callable[..., GenerationResult], module_db: str,
                                           accubooks_model: DataModel) -> None:
    target()
    for suite in SUITES:
        report = evaluate(module_db, accubooks_model, suite)
        assert report.outcome is Outcome.SUCCESSFUL, report.summary()
        assert report.checks == len(report.result_json["results"]) > 0


def users_write(db_url: str, tenants: range = range(1, 11)) -> None:
    """What live users do meanwhile: each tenant issues two invoices and pays one (balanced entries)."""
    from decimal import Decimal

    import psycopg

    from include.demo_target.service import queries

    with psycopg.connect(db_url) as conn:
        for tenant in tenants:
            queries.create_invoice(conn, tenant, 2, Decimal("12.50"))
            queries.create_invoice(conn, tenant, 1, Decimal("99.99"))
            assert queries.record_payment(conn, tenant) is not None


def test_users_writes_keep_both_suites_green(target: Callable[..., GenerationResult], module_db: str,
                                             accubooks_model: DataModel) -> None:
    target()
    users_write(module_db)
    for suite in SUITES:
        report = evaluate(module_db, accubooks_model, suite)
        assert report.outcome is Outcome.SUCCESSFUL, report.summary()


@pytest.mark.parametrize("defect", DEFECTS, ids=DEFECTS)
def test_defect_fails_exactly_its_expectation(defect: str, target: Callable[..., GenerationResult],
                                              module_db: str, accubooks_model: DataModel) -> None:
    """Under users' writes, as on a live system: the defect still trips its own expectation only."""
    planted = target([defect]).defects[defect]
    users_write(module_db)
    findings = [f for suite in SUITES for f in evaluate(module_db, accubooks_model, suite).findings]
    assert [f.check for f in findings] == [MEANT_FOR[defect]]
    assert findings[0].count == 1 and findings[0].ids == [planted]
    assert not findings[0].broken


def test_all_defects_at_once_each_named(target: Callable[..., GenerationResult], module_db: str,
                                        accubooks_model: DataModel) -> None:
    planted = target(list(DEFECTS)).defects
    found = {f.check: f.ids for suite in SUITES for f in evaluate(module_db, accubooks_model, suite).findings}
    assert found == {MEANT_FOR[name]: [row_id] for name, row_id in planted.items()}


def test_broken_query_is_reported_as_broken_not_as_bad_data(target: Callable[..., GenerationResult],
                                                            module_db: str, accubooks_model: DataModel) -> None:
    target()
    checks = [*suite_checks(accubooks_model, "integrity")[:2],
              Check("broken_check", "a typo in the SQL", "SELECT id FROM no_such_table WHERE")]
    report = evaluate(module_db, accubooks_model, "integrity", checks=checks)
    assert report.outcome is Outcome.ERROR
    assert [f.check for f in report.broken] == ["broken_check"] and not report.failed
    assert "BROKEN CHECK" in report.summary()
    broken = [r for r in report.result_json["results"] if not r["success"]]
    infos = broken[0]["exception_info"].values()  # GX keys exception_info by metric id here
    assert any(info["raised_exception"] for info in infos)


def test_bad_data_outranks_a_broken_check(target: Callable[..., GenerationResult], module_db: str,
                                          accubooks_model: DataModel) -> None:
    planted = target(["orphan_line"]).defects["orphan_line"]
    checks = [*suite_checks(accubooks_model, "integrity"), Check("broken_check", "typo", "SELEC 1")]
    report = evaluate(module_db, accubooks_model, "integrity", checks=checks)
    assert report.outcome is Outcome.FAILED
    assert [f.ids for f in report.failed] == [[planted]] and [f.check for f in report.broken] == ["broken_check"]


def test_launch_b_schema_gets_the_same_gates(target: Callable[..., GenerationResult], module_db: str) -> None:
    from include.launch.plan import load_plan

    model = load_plan("reconciliation").data_model
    assert model is not None
    target()
    for suite in SUITES:
        report = evaluate(module_db, model, suite)
        assert report.outcome is Outcome.SUCCESSFUL, report.summary()
    names = {c.name for s in SUITES for c in suite_checks(model, s)}
    assert {"same_tenant_reconciliation_results_job_id", "tenant_not_null_projects",
            "no_orphans_reconciliation_jobs_project_id"} <= names
