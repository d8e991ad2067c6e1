"""No open incident of the blocking severities in the ledger (P0/P1 by default)."""

from __future__ import annotations

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import SeverityParams


def open_incidents(run: PhaseRun) -> list[dict[str, str]]:
    rows = run.ledger.rows(launch_id=run.spec.launch_id)
    resolved = {row.payload.get("incident_id") for row in rows if row.event == "incident_resolved"}
    return [{"incident_id": row.payload["incident_id"], "severity": row.outcome, "title": row.payload.get("title", "")}
            for row in rows if row.event == "incident_opened" and row.payload.get("incident_id") not in resolved]


def no_open_incidents(run: PhaseRun, params: SeverityParams) -> CheckResult:
    blocking = {severity.value for severity in params.severities}
    found = [incident for incident in open_incidents(run) if incident["severity"] in blocking]
    if found:
        listing = ", ".join(f"{i['incident_id']} ({i['severity']}: {i['title']})" for i in found)
        return CheckResult(Outcome.FAILED, f"open incident(s): {listing}", {"open": found})
    return CheckResult(Outcome.SUCCESSFUL, f"no open {'/'.join(sorted(blocking))} incident", {"open": []})
