"""The ``quality_suite`` check: a Great Expectations suite on the target data; a failure is a P0.

The snapshot ``compare_counts`` checks against is the ledger row of this run's own integrity
pre-check (event ``quality_suite``, same run_id, ``compare_counts`` false), whose payload holds the
``row_snapshot`` (count and highest key per counted table) taken before the change. Nothing else
can supply it: no XCom, no trigger param, so a retried verify task reads the same snapshot. The
runner (and with it great_expectations) is imported only when the check runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.launch.core.vocabulary import Outcome, Severity
from include.launch.plugins.checks.base import CheckResult

if TYPE_CHECKING:
    from include.launch.evidence.runtime import PhaseRun
    from include.launch.plugins.checks.catalog import QualitySuiteParams
    from include.launch.plugins.quality.checks import Snapshot

INCIDENT_TITLES = {"integrity": "Data integrity check failed", "tenant_isolation": "Tenant isolation violated"}


def snapshot_before(run: PhaseRun) -> Snapshot | None:
    """The row snapshot this run's integrity pre-check recorded in the ledger, or None."""
    from include.launch.plugins.quality.runner import LEDGER_EVENT

    for row in reversed(run.own_rows(LEDGER_EVENT)):
        payload: dict[str, Any] = row.payload
        if (payload.get("suite") == "integrity"
                and not payload.get("compare_counts") and payload.get("row_snapshot")):
            return {str(t): {"rows": int(v["rows"]), "up_to": int(v["up_to"])}
                    for t, v in payload["row_snapshot"].items()}
    return None


def quality_suite(run: PhaseRun, params: QualitySuiteParams) -> CheckResult:
    """Run the suite through the runner; on bad data open a P0 incident before returning FAILED."""
    from include.launch.plugins.quality.runner import run_suite

    before = None
    if params.compare_counts:
        before = snapshot_before(run)
        if before is None:
            return CheckResult(Outcome.ERROR, f"{params.suite}: compare_counts needs the row snapshot of this "
                                              "run's integrity pre-check; none recorded for this run")
    result = run_suite(run, params.suite, before=before)
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
