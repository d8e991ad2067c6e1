"""An incident's life in the ledger: opened (by a trigger, a check or a person), acknowledged,
mitigated, resolved, each step with who, when and a note, and the report written again at each step
(every version kept: each ledger row hashes its own). The ledger is the only state; every reader (the
gates, the board, the review, the escalation) reads incidents through ``incidents()`` here.

Steps go forward only; a note is required at each; a P0 is resolved only by a holder of a role its
plan rule names (``resolved_by_roles``), and never by the person who opened it by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from include.launch.evidence.ledger import Row

if TYPE_CHECKING:
    from include.launch.plan import Plan

STEPS = ("acknowledged", "mitigated", "resolved")
STEP_EVENTS = {step: f"incident_{step}" for step in STEPS}
ESCALATED = "incident_escalated"
NOTE_MIN_CHARS = 10  # a step says what was seen or done, not "ok"


class IncidentStepError(ValueError):
    """A lifecycle step the ledger and the plan do not allow; the message names why."""


@dataclass(frozen=True)
class Step:
    actor: str
    at: datetime
    note: str


@dataclass
class Incident:
    incident_id: str
    severity: str
    title: str
    summary: str
    phase_id: str
    run_id: str
    opened_at: datetime
    opened_by: str
    data_integrity: str = "OK"
    tenants: list[str] = field(default_factory=list)
    steps: dict[str, Step] = field(default_factory=dict)
    escalated_at: datetime | None = None
    root_cause: str = ""

    @property
    def status(self) -> str:
        done = [step for step in STEPS if step in self.steps]
        return done[-1] if done else "open"

    @property
    def is_open(self) -> bool:
        return "resolved" not in self.steps

    @property
    def next_steps(self) -> list[str]:
        """The steps still open to it (forward only: after its latest step)."""
        done = [STEPS.index(step) for step in self.steps if step in STEPS]
        return list(STEPS[max(done) + 1:] if done else STEPS)

    def minutes_open(self, now: datetime) -> float:
        end = self.steps["resolved"].at if "resolved" in self.steps else now
        return (end - self.opened_at).total_seconds() / 60


def incidents(rows: list[Row]) -> list[Incident]:
    """Every incident of these ledger rows with its steps, oldest first."""
    found: dict[str, Incident] = {}
    for row in rows:
        ident = str(row.payload.get("incident_id", ""))
        if row.event == "incident_opened":
            found[ident] = Incident(
                ident, str(row.outcome), str(row.payload.get("title", "")), str(row.payload.get("summary", "")),
                row.phase_id, row.run_id, row.recorded_at, str(row.payload.get("opened_by") or "launch pipeline"),
                str(row.payload.get("data_integrity", "OK")), list(row.payload.get("tenants", [])))
        elif ident in found and row.event in STEP_EVENTS.values():
            step = row.event.removeprefix("incident_")
            found[ident].steps[step] = Step(row.actor, row.recorded_at, str(row.payload.get("note", "")))
            found[ident].root_cause = str(row.payload.get("root_cause", "")) or found[ident].root_cause
        elif ident in found and row.event == ESCALATED:
            found[ident].escalated_at = row.recorded_at
    return list(found.values())


def open_incidents(rows: list[Row], severities: set[str] | None = None) -> list[Incident]:
    return [i for i in incidents(rows) if i.is_open and (severities is None or i.severity in severities)]


def open_with_action(plan: Plan, rows: list[Row], action: str) -> list[Incident]:
    """Open incidents whose severity's plan rule carries ``action`` (e.g. "stop all changes")."""
    from include.launch.plan.incident_rules import has_action

    return [i for i in open_incidents(rows) if has_action(plan, i.severity, action)]


def describe(found: list[Incident]) -> str:
    """``INC-… (P1: title, acknowledged)``, for refusals that must name what blocks them."""
    return ", ".join(f"{i.incident_id} ({i.severity}: {i.title}, {i.status})" for i in found)


def advance(plan: Plan, rows: list[Row], incident_id: str, step: str, actor: str, note: str,
            root_cause: str = "") -> Incident:
    """The incident after ``step`` by ``actor``, checked against the ledger and the plan; raises
    IncidentStepError, before anything is written, when the step is not allowed."""
    from include.launch.plan.incident_rules import roles_of, rule_for

    if step not in STEPS:
        raise IncidentStepError(f"unknown step {step!r}; one of {', '.join(STEPS)}")
    incident = next((i for i in incidents(rows) if i.incident_id == incident_id), None)
    if incident is None:
        raise IncidentStepError(f"launch {plan.launch.id!r} has no incident {incident_id!r}")
    if not actor:
        raise IncidentStepError("a step needs the person who takes it (--by)")
    if len(note.strip()) < NOTE_MIN_CHARS:
        raise IncidentStepError(f"{step} needs a note of at least {NOTE_MIN_CHARS} characters saying what was "
                              f"seen or done (got {len(note.strip())})")
    if not incident.is_open:
        done = incident.steps["resolved"]
        raise IncidentStepError(f"{incident_id} was resolved by {done.actor} at {done.at:%Y-%m-%d %H:%M} UTC")
    later = [s for s in STEPS[STEPS.index(step):] if s in incident.steps]
    if later:
        raise IncidentStepError(f"{incident_id} is already {incident.status} ({incident.steps[later[-1]].actor}); "
                              "steps go forward only")
    if step == "resolved":
        rule = rule_for(plan, incident.severity)
        allowed = set(rule.resolved_by_roles) if rule is not None else set()
        if allowed and not allowed & roles_of(plan, actor):
            raise IncidentStepError(f"{actor} may not resolve a {incident.severity}: only holders of "
                                  f"{', '.join(sorted(allowed))} may (the plan's incidents rule)")
        if incident.severity == "P0" and actor == incident.opened_by:
            raise IncidentStepError(f"{actor} opened {incident_id}; a P0 is resolved by someone else")
    incident.steps[step] = Step(actor, datetime.now(UTC), note.strip())
    incident.root_cause = root_cause.strip() or incident.root_cause
    return incident


def overdue(plan: Plan, rows: list[Row], now: datetime) -> list[tuple[Incident, float]]:
    """Open incidents nobody acknowledged within their severity's ``respond_within_minutes``, not
    escalated yet, with that limit."""
    from include.launch.plan.incident_rules import rule_for

    late = []
    for incident in open_incidents(rows):
        rule = rule_for(plan, incident.severity)
        within = rule.respond_within_minutes if rule is not None else None
        if within is None or "acknowledged" in incident.steps or incident.escalated_at is not None:
            continue
        if (now - incident.opened_at).total_seconds() / 60 > within:
            late.append((incident, within))
    return late
