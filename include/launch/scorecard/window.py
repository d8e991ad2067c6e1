"""The scorecard's window as the ledger records it: when the beta (or first week) started, for how
many days, for which tenants and invitees, whether it was closed, and its pauses. The daily DAG, the
beta control DAG and the flag-expiry DAG all read it from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.spec.scorecard import PAUSED, RESUMED, WINDOW_CLOSED, WINDOW_OPENED, ScorecardSpec

if TYPE_CHECKING:
    from include.launch.evidence.ledger import Ledger


@dataclass
class ScorecardRun(PhaseRun):
    """A PhaseRun whose evidence goes to the scorecard's folder."""

    evidence_folder: str = ""

    @cached_property
    def evidence(self) -> EvidenceStore:
        return EvidenceStore(self.spec.plan.evidence.base, self.evidence_folder)


def scorecard_run(spec: ScorecardSpec, context: Any) -> ScorecardRun:
    base = PhaseRun.from_context(spec.phase_spec, context)
    return ScorecardRun(spec.phase_spec, base.run_id, base.task_id, base.params, base.triggering_user,
                        evidence_folder=spec.scorecard.evidence_folder)


# --- the window ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pause:
    """One pause of the beta: from the day it was paused on (a beta day: it ran until then) to the day
    it was resumed on (None: still paused). The days that begin while it is paused are paused days."""

    paused_on: date
    reason: str
    by: str
    incidents: list[str] = field(default_factory=list)
    resumed_on: date | None = None
    resumed_by: str = ""

    def covers(self, day: date) -> bool:
        return self.paused_on < day and (self.resumed_on is None or day <= self.resumed_on)

    def as_dict(self) -> dict[str, Any]:
        return {"paused_on": self.paused_on.isoformat(), "reason": self.reason, "by": self.by,
                "incidents": self.incidents, "resumed_on": self.resumed_on.isoformat() if self.resumed_on else None,
                "resumed_by": self.resumed_by}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pause:
        resumed = data.get("resumed_on")
        return cls(date.fromisoformat(data["paused_on"]), str(data.get("reason") or ""), str(data.get("by") or ""),
                   [str(i) for i in data.get("incidents") or []], date.fromisoformat(resumed) if resumed else None,
                   str(data.get("resumed_by") or ""))


@dataclass(frozen=True)
class Window:
    """The scorecard's window from the ledger: start (UTC), days, cohort tenants, invitees, closing
    time if any, and its pauses."""

    start: datetime
    days: int
    run_id: str
    tenants: list[int] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: str = ""
    invitees: list[dict[str, Any]] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)

    @property
    def paused(self) -> Pause | None:
        """The pause in force (not resumed yet), if any."""
        return next((p for p in self.pauses if p.resumed_on is None), None)

    def pause_covering(self, day: date) -> Pause | None:
        return next((p for p in self.pauses if p.covers(day)), None)

    @property
    def first_day(self) -> date:
        return self.start.date()

    def day_number(self, day: date) -> int:
        return (day - self.first_day).days + 1

    def date_of(self, day_number: int) -> date:
        return self.first_day + timedelta(days=day_number - 1)

    @property
    def planned_end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "days": self.days, "run_id": self.run_id, "tenants": self.tenants,
                "planned_end": self.planned_end.isoformat(),
                "closed_at": self.closed_at.isoformat() if self.closed_at else None, "closed_by": self.closed_by,
                "invitees": self.invitees, "pauses": [p.as_dict() for p in self.pauses]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        closed = data.get("closed_at")
        return cls(datetime.fromisoformat(data["start"]), int(data["days"]), str(data["run_id"]),
                   [int(t) for t in data.get("tenants") or []], datetime.fromisoformat(closed) if closed else None,
                   str(data.get("closed_by") or ""), list(data.get("invitees") or []),
                   [Pause.from_dict(p) for p in data.get("pauses") or []])


def pauses_of(rows: list[Any]) -> list[Pause]:
    """The window's pauses from its ``beta_paused`` / ``beta_resumed`` rows, oldest first."""
    pauses: list[Pause] = []
    for row in rows:
        if row.event == PAUSED and (not pauses or pauses[-1].resumed_on is not None):
            on = row.payload.get("paused_on") or row.recorded_at.date().isoformat()
            pauses.append(Pause(date.fromisoformat(str(on)), str(row.payload.get("reason") or ""),
                                str(row.actor or row.payload.get("by") or ""),
                                [str(i) for i in row.payload.get("incidents") or []]))
        elif row.event == RESUMED and pauses and pauses[-1].resumed_on is None:
            on = row.payload.get("resumed_on") or row.recorded_at.date().isoformat()
            last = pauses[-1]
            pauses[-1] = Pause(last.paused_on, last.reason, last.by, last.incidents, date.fromisoformat(str(on)),
                               str(row.actor or ""))
    return pauses


def find_window(ledger: Ledger, spec: ScorecardSpec) -> Window | None:
    """The latest window of the scorecard's phase: the first opening row of the latest opening run."""
    rows = ledger.rows(launch_id=spec.launch_id, phase_id=spec.scorecard.phase)
    opened = [r for r in rows if r.event in WINDOW_OPENED and r.outcome == Outcome.SUCCESSFUL.value]
    if not opened:
        return None
    latest_run = opened[-1].run_id
    first = next(r for r in opened if r.run_id == latest_run)
    payload = first.payload
    start = datetime.fromisoformat(payload["start"]) if payload.get("start") else first.recorded_at
    closed = next((r for r in rows if r.seq > first.seq and r.event in WINDOW_CLOSED), None)
    later = [r for r in rows if r.seq > first.seq and (closed is None or r.seq < closed.seq)]
    return Window(start.astimezone(UTC), int(payload.get("days") or spec.scorecard.days), first.run_id,
                  [int(t) for t in payload.get("tenants") or []],
                  closed.recorded_at.astimezone(UTC) if closed else None,
                  f"{closed.event}: {closed.payload.get('reason', '')}" if closed else "",
                  [dict(i) for i in payload.get("invitees") or []], pauses_of(later))


def logical_day(context: Any) -> date:
    moment = context.get("data_interval_start") or context.get("logical_date")
    if moment is None:
        return datetime.now(UTC).date()
    return datetime.fromisoformat(str(moment)).astimezone(UTC).date() if isinstance(moment, str) \
        else moment.astimezone(UTC).date()
