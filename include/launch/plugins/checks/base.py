"""What every check returns: an outcome in Argo's words, a one-line summary and its measurements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include.launch.core.criteria import Criterion
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.store import EvidenceRef


@dataclass(frozen=True)
class CriterionResult:
    """One row of a criteria table: criterion, measured value and verdict."""

    criterion: Criterion
    measured: float | None
    applies: bool | None = True  # the criterion's ``when`` on the same values

    @property
    def outcome(self) -> Outcome:
        if self.measured is None or self.applies is None:
            return Outcome.INCONCLUSIVE
        if not self.applies:
            return Outcome.SUCCESSFUL  # the plan judges it only when its condition holds
        return Outcome.SUCCESSFUL if self.criterion.holds(self.measured) else Outcome.FAILED

    def as_dict(self) -> dict[str, Any]:
        return {
            "criterion": str(self.criterion),
            "description": self.criterion.description,
            "metric": self.criterion.metric.value,
            "threshold": self.criterion.threshold,
            "measured": self.measured,
            "outcome": self.outcome.value,
            **({"judged": self.applies, "when": str(self.criterion.when)} if self.criterion.when else {}),
        }


def evaluate(criteria: list[Criterion], values: dict[str, float | None]) -> list[CriterionResult]:
    return [CriterionResult(criterion, values.get(criterion.metric.value), criterion.applies(values))
            for criterion in criteria]


def overall(results: list[CriterionResult]) -> Outcome:
    """Failed beats inconclusive beats successful."""
    outcomes = {result.outcome for result in results}
    if Outcome.FAILED in outcomes:
        return Outcome.FAILED
    if Outcome.INCONCLUSIVE in outcomes:
        return Outcome.INCONCLUSIVE
    return Outcome.SUCCESSFUL


def describe_failures(results: list[CriterionResult]) -> str:
    parts = []
    for result in results:
        if result.outcome is Outcome.SUCCESSFUL:
            continue
        measured = "no data" if result.measured is None else f"{result.measured:g}"
        if result.applies is None and result.criterion.when is not None:
            measured += f"; no data for its condition {result.criterion.when.metric.value}"
        parts.append(f"{result.criterion} (measured {measured})")
    return "; ".join(parts)


class SourceUnavailableError(Exception):
    """The deployment has no source for this check (its connection is not defined). The engine fails
    the check with this reason unless the plan marks the check ``when_unavailable: not_applicable``."""


@dataclass(frozen=True)
class CheckResult:
    """outcome: successful / failed / inconclusive / error / not_applicable; summary: one line that
    names the threshold and the measured value; evidence: files written for it."""

    outcome: Outcome
    summary: str
    measured: dict[str, Any] = field(default_factory=dict)
    criteria: list[CriterionResult] = field(default_factory=list)
    evidence: list[EvidenceRef] = field(default_factory=list)

    @classmethod
    def from_criteria(cls, results: list[CriterionResult], *, what: str,
                      measured: dict[str, Any] | None = None,
                      evidence: list[EvidenceRef] | None = None) -> CheckResult:
        outcome = overall(results)
        summary = f"{what}: all criteria met" if outcome is Outcome.SUCCESSFUL else f"{what}: " + describe_failures(
            results)
        return cls(outcome, summary, measured or {}, results, evidence or [])

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "summary": self.summary,
            "measured": self.measured,
            "criteria": [result.as_dict() for result in self.criteria],
        }
