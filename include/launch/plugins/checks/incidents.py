"""No open incident of the blocking severities in the ledger (P0/P1 by default)."""

from __future__ import annotations

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.incident_log import describe, open_incidents
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import SeverityParams


def no_open_incidents(run: PhaseRun, params: SeverityParams) -> CheckResult:
    blocking = {severity.value for severity in params.severities}
    found = open_incidents(run.ledger.rows(launch_id=run.spec.launch_id), blocking)
    if found:
        return CheckResult(Outcome.FAILED, f"open incident(s): {describe(found)}",
                           {"open": [{"incident_id": i.incident_id, "severity": i.severity, "title": i.title,
                                      "status": i.status} for i in found]})
    return CheckResult(Outcome.SUCCESSFUL, f"no open {'/'.join(sorted(blocking))} incident", {"open": []})
