"""A criterion is one comparison of a named metric with a threshold: the unit of every gate."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.launch.core.vocabulary import Comparison, Metric, Severity


class Condition(BaseModel):
    """``metric op threshold`` that must hold for a criterion to be judged at all (``when``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric
    op: Comparison
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric.value} {self.op.value} {self.threshold:g}"


class Criterion(BaseModel):
    """``metric op threshold``, e.g. ``error_rate_percent < 0.1``.

    metric: a name from the shared vocabulary; its suffix fixes the unit.
    op: the comparison that must hold for the criterion to pass.
    threshold: in the metric's unit; percentages must lie in 0-100.
    description: the words of the launch document, shown in reports.
    from_setting: the change setting whose effective value (plan or trigger form) is the threshold,
    e.g. ``DB_POOL_MAX`` for ``pool_max == 200``; ``threshold`` then documents the plan's value.
    when: judge this criterion only while the condition holds, e.g. a p95 regression in percent only
    when the p95 also rose by more than 25 ms (``latency_regression_ms > 25``): a relative and an
    absolute threshold together. The value is always measured and reported as it is.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric
    op: Comparison
    threshold: float
    description: str = ""
    from_setting: str | None = None
    when: Condition | None = None

    @model_validator(mode="after")
    def _threshold_in_unit_range(self) -> Criterion:
        bounds = self.metric.bounds
        if bounds and not bounds[0] <= self.threshold <= bounds[1]:
            raise ValueError(
                f"threshold {self.threshold:g} is outside {bounds[0]:g}-{bounds[1]:g} "
                f"for {self.metric.value} ({self.metric.unit.value})"
            )
        return self

    def with_settings(self, settings: dict[str, int | str]) -> Criterion:
        """This criterion with its threshold taken from the effective change settings."""
        if self.from_setting is None or self.from_setting not in settings:
            return self
        return self.model_copy(update={"threshold": float(settings[self.from_setting])})

    def holds(self, measured: float) -> bool:
        return self.op.holds(measured, self.threshold)

    def applies(self, values: Mapping[str, float | None]) -> bool | None:
        """Whether this criterion is judged on these values: always without ``when``; None when the
        condition's own metric was not measured (inconclusive, never a pass)."""
        if self.when is None:
            return True
        value = values.get(self.when.metric.value)
        return None if value is None else self.when.op.holds(float(value), self.when.threshold)

    def __str__(self) -> str:
        text = f"{self.metric.value} {self.op.value} {self.threshold:g}"
        return f"{text} when {self.when}" if self.when is not None else text


class RollbackTrigger(Criterion):
    """A criterion that, once it holds for ``sustained_minutes``, rolls the change back.

    sustained_minutes: how long the breach must last; 0 (default) means at the first sample.
    severity: the incident severity raised when it fires (default P1).
    """

    sustained_minutes: float = Field(default=0.0, ge=0)
    severity: Severity = Severity.P1
