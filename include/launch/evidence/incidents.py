"""Incidents: a report from seed 000's template in the evidence tree, a ledger row, Slack.

P0 (data integrity, tenant isolation, calculation error, downtime, error rate > 1%, a failed
rollback) stops all changes and tells everyone; P1 pauses; P2 is documented.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from include.launch.evidence.store import EvidenceRef

if TYPE_CHECKING:
    from include.launch.evidence.runtime import PhaseRun

TEMPLATE = """# Incident Report: {title}

**Incident ID**: {incident_id}
**Severity**: {severity}
**Detected**: {detected}
**Resolved**: {resolved}
**Duration**: {duration}

## Summary
{summary}

## Impact
- Users affected: {users_affected}
- Services affected: {services}
- Data integrity: {data_integrity}

## Timeline
- {detected}: detected by the launch pipeline (run `{run_id}`, task `{task_id}`)
- {detected}: Slack notified with severity {severity}

## Root Cause
To be analysed by the on-call engineer. Evidence: `{evidence_folder}/`.

## Resolution
{resolution}

## Prevention
To be written after the root-cause analysis.

## Lessons Learned
To be written in the post-incident review.
"""


def incident_id(moment: datetime) -> str:
    return f"INC-{moment:%Y%m%dT%H%M%S%f}"


def render_report(*, title: str, severity: str, summary: str, run_id: str, task_id: str, evidence_folder: str,
                  data_integrity: str = "OK", users_affected: str = "unknown", services: str = "target service",
                  resolution: str = "Open.", moment: datetime | None = None) -> tuple[str, str]:
    moment = moment or datetime.now(UTC)
    ident = incident_id(moment)
    text = TEMPLATE.format(
        title=title, incident_id=ident, severity=severity, detected=moment.isoformat(timespec="seconds"),
        resolved="open", duration="open", summary=summary, users_affected=users_affected, services=services,
        data_integrity=data_integrity, run_id=run_id, task_id=task_id, evidence_folder=evidence_folder,
        resolution=resolution,
    )
    return ident, text


def open_incident(run: PhaseRun, *, severity: str, title: str, summary: str, data_integrity: str = "OK",
                  resolution: str = "Open.") -> EvidenceRef:
    """Write the report, record it, and tell Slack with the severity. Returns the report's ref."""
    ident, text = render_report(
        title=title, severity=severity, summary=summary, run_id=run.run_id, task_id=run.task_id,
        evidence_folder=f"{run.spec.plan.evidence.base}/{run.spec.phase.id}", data_integrity=data_integrity,
        resolution=resolution,
    )
    ref = run.evidence.write_text(f"incidents/{ident}.md", text)
    run.record("incident_opened", severity, {"incident_id": ident, "title": title, "summary": summary,
                                             "severity": severity, "status": "open"}, [ref])
    run.notify("incident", f"{title}: {summary} (report {ident})", severity=severity)
    return ref
