"""A plan's daily scorecard as the engine renders it: the window's ledger events and the spec the
scorecard DAG and its task bodies share."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from include.launch.plan.models import Plan, Scorecard
from include.launch.spec.phase import PhaseSpec, build_phase_spec

DAY_EVENT = "scorecard_day"
WINDOW_OPENED = ("beta_started", "phase_completed")
WINDOW_CLOSED = ("rollback_completed",)  # the phase's own rollback ends the window
# A pause (on any day: a P0 of the daily scorecard, or by hand) keeps the window: its days are
# scored as paused until a resume.
PAUSED, RESUMED = "beta_paused", "beta_resumed"


@dataclass(frozen=True)
class ScorecardSpec:
    """A scorecard of a plan. ``phase_spec`` is its phase, carrying the scorecard's dag_id: ledger
    rows land in the phase (so reviews and status see them), links point at the scorecard DAG."""

    plan_path: str
    plan: Plan
    scorecard: Scorecard
    phase_spec: PhaseSpec

    @property
    def dag_id(self) -> str:
        return self.scorecard.dag_id

    @property
    def launch_id(self) -> str:
        return self.plan.launch.id

    @property
    def title(self) -> str:
        return f"{self.plan.launch.name}: {self.scorecard.id.replace('_', ' ')}"

    @property
    def tags(self) -> list[str]:
        return ["launch", self.launch_id, self.scorecard.phase, "scorecard"]


def build_scorecard_spec(plan: Plan, scorecard_id: str, plan_path: str | Path) -> ScorecardSpec:
    card = next((c for c in plan.scorecards if c.id == scorecard_id), None)
    if card is None:
        raise KeyError(f"plan {plan.launch.id!r} has no scorecard {scorecard_id!r}")
    phase_spec = build_phase_spec(plan, card.phase, plan_path)
    phase = phase_spec.phase.model_copy(update={"dag_id": card.dag_id})
    return ScorecardSpec(str(plan_path), plan, card, replace(phase_spec, phase=phase))
