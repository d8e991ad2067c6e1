"""Plan-side models of the review (kept free of Airflow and psycopg: plans import them at parse)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from include.launch.core.registry import Params
from include.launch.core.vocabulary import Metric

OverBeta = Literal["last", "mean", "worst"]


class ReviewCriterion(Params):
    """One success criterion of the launch document, judged over the whole beta.

    name: the document's words; metrics: scorecard metrics it is made of (thresholds come from the
    scorecard, one source of truth); over_beta: how the daily values become one value - ``last``
    (cumulative metrics and the latest survey), ``mean`` (of the daily values), ``worst`` (the worst
    day in the criterion's sense); critical: a miss means NO (integrity, isolation), otherwise a
    miss is a named condition of a CONDITIONAL rollout.
    """

    name: str = Field(min_length=1)
    metrics: list[Metric] = Field(min_length=1)
    over_beta: OverBeta = "last"
    critical: bool = False
