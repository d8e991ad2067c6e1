"""The ``quality_suite`` check: a Great Expectations suite on the target data; a failure is a P0.

Expected row counts for ``compare_counts`` come from, in order: the run's param
``expected_row_counts`` ({table: count}), else the ledger row of this run's own integrity
pre-check (event ``quality_suite``, same run_id, ``compare_counts`` false), whose payload holds the
``row_counts`` measured before the change. No XCom is involved, so a retried verify task reads the
same snapshot. The runner (and with it great_expectations) is imported only when the check runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.launch.core.vocabulary import Outcome, Severity
from include.launch.plugins.checks.base import CheckResult

if TYPE_CHECKING:
    from include.launch.evidence.runtime import PhaseRun
    from include.launch.plugins.checks.catalog import QualitySuiteParams

INCIDENT_TITLES = {"integrity": "Data integrity check failed", "tenant_isolation": "Tenant isolation violated"}


def expected_row_counts(run: PhaseRun) -> dict[str, int] | None:
    """The snapshot counts for this run: an explicit param first, else the pre-check's ledger row."""
    from include.launch.plugins.quality.runner import LEDGER_EVENT

    given = run.params.get("expected_row_counts")
    if given:
        return {str(table): int(count) for table, count in dict(given).items()}
    for row in reversed(run.own_rows(LEDGER_EVENT)):
        payload: dict[str, Any] = row.payload
        if (payload.get("suite") == "integrity"
                and not payload.get("compare_counts") and payload.get("row_counts")):
            return {str(t): int(c) for t, c in payload["row_counts"].items()}
    return None


def quality_suite(run: PhaseRun, params: QualitySuiteParams) -> CheckResult:
    """Run the suite through the runner; on bad data open a P0 incident before returning FAILED."""
    from include.launch.plugins.quality.runner import run_suite

    expected = None
    if params.compare_counts:
        expected = expected_row_counts(run)
        if expected is None:
            return CheckResult(Outcome.ERROR, f"{params.suite}: compare_counts needs the row counts of the "
                                              "pre-check snapshot; none recorded for this run")
    result = run_suite(run, params.suite, expected_counts=expected)
    if result.outcome is Outcome.FAILED:
        report = open_p0(run, params.suite, result.summary)
        return CheckResult(result.outcome, result.summary, result.measured, result.criteria,
                           [*result.evidence, report])
    return result


def open_p0(run: PhaseRun, suite: str, summary: str) -> Any:
    """The P0 incident (report in evidence, ledger row, Slack with severity P0); returns its ref."""
    from include.launch.evidence.incidents import open_incident

    return open_incident(
        run, severity=Severity.P0.value, title=INCIDENT_TITLES.get(suite, f"Quality suite {suite} failed"),
        summary=summary, data_integrity=f"VIOLATED ({suite})",
    )
