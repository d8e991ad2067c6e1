"""Soak decisions, without Airflow: sustained durations, inconclusive and error limits, the window."""

from __future__ import annotations

import pytest

from include.launch.core.criteria import Criterion, RollbackTrigger
from include.launch.core.vocabulary import Comparison, Metric
from include.launch.engine.soak import REGRESSION_FLOOR_MS, covered, evaluate
from include.launch.plan.models import Soak
from include.launch.plugins.checks.synthetic_load import regression_percent
from include.launch.plugins.metrics.sample import Sample

ERROR_5MIN = RollbackTrigger(metric=Metric.ERROR_RATE_PERCENT, op=Comparison.GT, threshold=1, sustained_minutes=5)
P95_NOW = RollbackTrigger(metric=Metric.LATENCY_P95_MS, op=Comparison.GT, threshold=1000)
CRITERIA = [Criterion(metric=Metric.ERROR_RATE_PERCENT, op=Comparison.LT, threshold=0.1)]
POLICY = Soak(window_minutes=60, interval_seconds=60, inconclusive_limit=3, consecutive_error_limit=2)


def samples(*error_rates: float | None, p95: float = 100, every: float = 60, error: str = "") -> list[Sample]:
    return [Sample(i * every, "target", {"error_rate_percent": rate, "latency_p95_ms": p95}, error=error)
            for i, rate in enumerate(error_rates)]


def decide(series: list[Sample], now: float | None = None, window: float = 3600) -> str:
    now = series[-1].taken_at if now is None else now
    return evaluate(series, [ERROR_5MIN, P95_NOW], CRITERIA, POLICY, window, series[0].taken_at, now).status


@pytest.mark.parametrize(("rates", "expected"), [
    ([0.0, 2.0, 2.0, 2.0, 2.0, 2.0], "continue"),          # 4 minutes above 1 %: not yet sustained
    ([0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0], "breach"),       # 5 minutes above 1 %: roll back
    ([2.0, 2.0, 2.0, 0.5, 2.0, 2.0, 2.0], "continue"),     # a good sample resets the streak
], ids=["4-min-streak", "5-min-streak", "interrupted-streak"])
def test_sustained_triggers_need_their_whole_duration(rates: list[float], expected: str) -> None:
    assert decide(samples(*rates)) == expected


def test_immediate_trigger_fires_at_the_first_sample() -> None:
    verdict = evaluate(samples(0.0, p95=1500), [P95_NOW], CRITERIA, POLICY, 3600, 0, 0)
    assert verdict.status == "breach" and "latency_p95_ms > 1000" in verdict.reason


def test_missing_data_is_inconclusive_then_fails_safe() -> None:
    assert decide(samples(0.0, None, None)) == "continue"
    verdict = evaluate(samples(0.0, None, None, None), [ERROR_5MIN], CRITERIA, POLICY, 3600, 0, 180)
    assert verdict.status == "inconclusive" and "error_rate_percent" in verdict.reason


def test_unmeasurable_samples_fail_after_the_error_limit() -> None:
    series = samples(0.0) + samples(0.0, 0.0, 0.0, error="connection refused")[1:]
    verdict = evaluate(series, [ERROR_5MIN], CRITERIA, POLICY, 3600, 0, 120)
    assert verdict.status == "error" and "connection refused" in verdict.reason


def test_window_passes_only_when_every_sample_met_the_criteria() -> None:
    assert decide(samples(0.0, 0.05, 0.02), window=120) == "passed"
    verdict = evaluate(samples(0.0, 0.5, 0.02), [ERROR_5MIN], CRITERIA, POLICY, 120, 0, 120)
    assert verdict.status == "breach" and "worst 0.5" in verdict.reason


def test_a_gap_in_sampling_extends_the_watch_instead_of_passing_unseen() -> None:
    """The scheduler was down for most of a 4-minute window: a 4-minute gap counts as 130 s watched."""
    gap = [Sample(0, "target", {"error_rate_percent": 0.0}), Sample(240, "target", {"error_rate_percent": 0.0})]
    assert evaluate(gap, [ERROR_5MIN], CRITERIA, POLICY, 240, 0, 240, interval_seconds=60).status == "continue"
    watched = [*gap, *(Sample(240 + 60 * k, "target", {"error_rate_percent": 0.0}) for k in (1, 2))]
    verdict = evaluate(watched, [ERROR_5MIN], CRITERIA, POLICY, 240, 0, 360, interval_seconds=60)
    assert verdict.status == "passed" and "watch extended to 6.0 min" in verdict.reason
    steady = [Sample(65 * k, "target", {"error_rate_percent": 0.0}) for k in range(5)]  # overhead, no gap
    verdict = evaluate(steady, [ERROR_5MIN], CRITERIA, POLICY, 240, 0, 260, interval_seconds=60)
    assert verdict.status == "passed" and "extended" not in verdict.reason


def test_metrics_the_source_cannot_measure_are_named_not_counted_as_missing() -> None:
    cpu = RollbackTrigger(metric=Metric.DB_CPU_PERCENT, op=Comparison.GT, threshold=90)
    inside, outside = covered([ERROR_5MIN, cpu], frozenset({"error_rate_percent"}))
    assert inside == [ERROR_5MIN] and outside == ["db_cpu_percent > 90"]


@pytest.mark.parametrize(("before", "after", "expected"), [
    (5.0, 29.0, 0.0),      # 24 ms on a 5 ms baseline: inside the 25 ms floor, histogram resolution
    (5.0, 40.0, 700.0),    # past the floor: the relative rule of the documents applies
    (200.0, 260.0, 30.0),  # a real service's p95: 30 % slower breaches "> 20 %"
    (None, 40.0, None),    # no baseline measured: no regression value, never a silent 0
], ids=["within-floor", "past-floor", "real-service", "no-baseline"])
def test_latency_regression_against_the_baseline(before: float | None, after: float, expected: float | None) -> None:
    assert regression_percent(before, after, REGRESSION_FLOOR_MS) == expected
