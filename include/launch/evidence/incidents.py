"""Incidents written down: a report from seed 000's template in the evidence tree, a ledger row and
Slack, when one opens, at each step of its life (include.launch.evidence.incident_log checks the
step first), and when it is escalated. What an open incident stops is the plan's incident rule
(include.launch.plan.incident_rules) applied by include.launch.engine.incidents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from include.launch.evidence.incident_log import ESCALATED, STEP_EVENTS, Incident, Step, advance
from include.launch.evidence.store import EvidenceRef

if TYPE_CHECKING:
    from include.launch.evidence.ledger import Row
    from include.launch.evidence.runtime import PhaseRun

TEMPLATE = """# Incident Report: {title}

**Incident ID**: {incident_id}
**Severity**: {severity}
**Status**: {status}
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
{timeline}

## Root Cause
{root_cause}

## Resolution
{resolution}

## Prevention
To be written after the root-cause analysis.

## Lessons Learned
To be written in the post-incident review.

**Reported By**: {reported_by}
**Reviewed By**: {reviewed_by}
**Approved By**: {approved_by}
"""


def incident_id(moment: datetime) -> str:
    return f"INC-{moment:%Y%m%dT%H%M%S%f}"


def _users_affected(incident: Incident) -> str:
    if incident.tenants:
        return f"{len(incident.tenants)} tenant(s): {', '.join(incident.tenants)}"
    return "not attributed to tenants: a service-wide measurement, so every user of the service may be affected"


def render_report(incident: Incident, *, evidence_folder: str, task_id: str = "", services: str = "target service",
                  now: datetime | None = None) -> str:
    """Seed 000's template, filled from the incident as the ledger has it now."""
    now = now or datetime.now(UTC)
    stamp = "%Y-%m-%d %H:%M:%S UTC"
    timeline = [f"- {incident.opened_at:{stamp}}: opened by {incident.opened_by} (run `{incident.run_id}`"
                + (f", task `{task_id}`" if task_id else "") + f"); Slack told with severity {incident.severity}"]
    timeline += [f"- {step.at:{stamp}}: {name} by {step.actor}: {step.note}" for name, step in incident.steps.items()]
    if incident.escalated_at is not None:
        timeline.append(f"- {incident.escalated_at:{stamp}}: escalated: nobody acknowledged it in time; paged")
    timeline.sort()
    resolved = incident.steps.get("resolved")
    mitigated = incident.steps.get("mitigated")
    resolution = "\n".join(f"- {name}: {step.note}" for name, step in incident.steps.items()
                           if name in ("mitigated", "resolved")) or "Open."
    minutes = incident.minutes_open(now)
    return TEMPLATE.format(
        title=incident.title, incident_id=incident.incident_id, severity=incident.severity,
        status=incident.status.upper(), detected=f"{incident.opened_at:{stamp}}",
        resolved=f"{resolved.at:{stamp}}" if resolved else "open",
        duration=f"{minutes:.0f} min" + ("" if resolved else " so far (open)"), summary=incident.summary,
        users_affected=_users_affected(incident), services=services, data_integrity=incident.data_integrity,
        timeline="\n".join(timeline),
        root_cause=incident.root_cause or f"To be analysed by the on-call engineer. Evidence: `{evidence_folder}/`.",
        resolution=resolution, reported_by=incident.opened_by,
        reviewed_by=(mitigated or incident.steps.get("acknowledged") or Step("not yet", now, "")).actor,
        approved_by=resolved.actor if resolved else "not yet (resolving needs a role the plan names)",
    )


def write_report(run: PhaseRun, incident: Incident, version: str = "") -> EvidenceRef:
    """``incidents/<id>.md`` when it opens, ``incidents/<id>.<step>.md`` at each step: every version
    stays, each hashed by its own ledger row."""
    name = f"incidents/{incident.incident_id}{'.' + version if version else ''}.md"
    return run.evidence.write_text(name, render_report(
        incident, evidence_folder=f"{run.spec.plan.evidence.base}/{run.spec.phase.id}", task_id=run.task_id))


def open_incident(run: PhaseRun, *, severity: str, title: str, summary: str, data_integrity: str = "OK",
                  tenants: list[str] | None = None, opened_by: str = "") -> EvidenceRef:
    """Write the report, record it, and tell Slack with the severity. Returns the report's ref."""
    moment = datetime.now(UTC)
    incident = Incident(incident_id(moment), severity, title, summary, run.spec.phase.id, run.run_id, moment,
                        opened_by or "launch pipeline", data_integrity, list(tenants or []))
    ref = write_report(run, incident)
    run.record("incident_opened", severity, {"incident_id": incident.incident_id, "title": title, "summary": summary,
                                             "severity": severity, "status": "open", "data_integrity": data_integrity,
                                             "tenants": incident.tenants, "opened_by": incident.opened_by}, [ref],
               actor=opened_by)
    run.notify("incident", f"{title}: {summary} (report {incident.incident_id})", severity=severity)
    return ref


def take_step(run: PhaseRun, incident_id: str, step: str, actor: str, note: str, root_cause: str = "",
              rows: list[Row] | None = None) -> Incident:
    """Check, then record the step, write the report again and tell Slack (``rows``: the launch's
    ledger rows when the caller has just read them)."""
    rows = run.ledger.rows(launch_id=run.spec.launch_id) if rows is None else rows
    incident = advance(run.spec.plan, rows, incident_id, step, actor, note, root_cause)
    ref = write_report(run, incident, version=step)
    run.record(STEP_EVENTS[step], incident.severity,
               {"incident_id": incident_id, "note": incident.steps[step].note, "root_cause": root_cause.strip(),
                "minutes_open": round(incident.minutes_open(datetime.now(UTC)), 2)}, [ref], actor=actor)
    run.notify("incident", f"{incident_id} {step} by {actor}: {incident.steps[step].note}", severity=incident.severity)
    return incident


def escalate(run: PhaseRun, incident: Incident, within: float, now: datetime) -> dict[str, Any]:
    """Page and say so in Slack; the escalation row is written whether or not the page arrived."""
    from include.launch.evidence.pager import page

    waited = (now - incident.opened_at).total_seconds() / 60
    summary = (f"ESCALATED: {incident.incident_id} ({incident.severity}: {incident.title}) has not been "
               f"acknowledged for {waited:.0f} min; the plan says respond within {within:g} min")
    delivered = page(run, severity=incident.severity, summary=summary, dedup_key=f"{incident.incident_id}-escalation")
    run.record(ESCALATED, incident.severity, {"incident_id": incident.incident_id, "summary": summary,
                                              "waited_minutes": round(waited, 1), "respond_within_minutes": within,
                                              "paged": delivered})
    run.notify("incident", summary, severity=incident.severity)
    return {"incident_id": incident.incident_id, "paged": delivered}
