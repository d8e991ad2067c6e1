"""What ``plan check`` demands of a post-beta review: it judges a scorecard the plan has, criteria
that scorecard scores, decisions on metrics the daily DAG collects, and a coverage the window can
give. A review that could only ever say "no data" or "keep" is refused before it is scheduled."""

from __future__ import annotations

from pydantic import ValidationError

from include.launch.plan.daily_metrics import DAILY_METRICS
from include.launch.plan.models import Plan
from include.launch.plugins.changes.catalog import RolloutDecisionParams

REVIEW_KIND = "rollout_decision"


def reviews(plan: Plan) -> list[tuple[int, RolloutDecisionParams]]:
    """(phase index, params) of every phase whose change is a rollout decision with valid params."""
    found = []
    for index, phase in enumerate(plan.phases):
        if phase.change is None or phase.change.kind != REVIEW_KIND:
            continue
        try:
            found.append((index, RolloutDecisionParams.model_validate(phase.change.params)))
        except ValidationError:
            continue  # the params' own errors are reported by the plug-in check
    return found


def judged_metrics(plan: Plan, scorecard_id: str) -> set[str]:
    """Every metric a review of ``scorecard_id`` reads: its criteria's and its decisions' metrics."""
    metrics: set[str] = set()
    for _, params in reviews(plan):
        if params.scorecard == scorecard_id:
            metrics |= {m.value for c in params.criteria for m in c.metrics}
            metrics |= {rule.metric.value for d in params.decisions for rule in d.scale_when}
    return metrics


def review_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    for index, params in reviews(plan):
        where = f"phases[{index}].change.params"
        card = next((c for c in plan.scorecards if c.id == params.scorecard), None)
        if card is None:
            problems.append(f"{where}.scorecard: the plan has no scorecard {params.scorecard!r} to review")
            continue
        scored = {c.metric for c in card.criteria}
        for position, criterion in enumerate(params.criteria):
            for metric in criterion.metrics:
                if metric not in scored:
                    problems.append(f"{where}.criteria[{position}].metrics: scorecard {card.id!r} scores no "
                                    f"{metric.value}; the review could only say no data")
        for position, decision in enumerate(params.decisions):
            for rule in decision.scale_when:
                if rule.metric.value not in DAILY_METRICS:
                    problems.append(f"{where}.decisions[{position}].scale_when: the daily scorecard cannot collect "
                                    f"{rule.metric.value}; the decision could only say keep")
        if params.min_days_measured is not None and params.min_days_measured > card.days:
            problems.append(f"{where}.min_days_measured: {params.min_days_measured} is more days than scorecard "
                            f"{card.id!r} runs ({card.days})")
    return problems
