"""Soak decisions, without Airflow: sustained durations, inconclusive and error limits, the window."""

from __future__ import annotations

import pytest

from include.launch.core.criteria import Criterion, RollbackTrigger
from include.launch.core.vocabulary import Comparison, Metric
from include.launch.engine.soak import covered, evaluate
from include.launch.plan.models import Soak
from include.launch.plugins.checks.synthetic_load import regression_ms, regression_percent
from include.launch.plugins.metrics.sample import Sample

ERROR_5MIN = RollbackTrigger(metric=Metric.ERROR_RATE_PERCENT, op=Comparison.GT, threshold=1, sustained_minutes=5)
P95_NOW = RollbackTrigger(metric=Metric.LATENCY_P95_MS, op=Comparison.GT, threshold=1000)
CRITERIA = [Criterion(metric=Metric.ERROR_RATE_PERCENT, op=Comparison.LT, threshold=0.1)]
POLICY = Soak(window_minutes=60, interval_seconds=60, inconclusive_limit=3, consecutive_error_limit=2)


def samples(*error_rates: float | None, p95: float = 100, every: float = 60, error: str = "") -> list[Sample]:
    return [Sample(i * every, "target", {"error_rate_percent": rate, "latency_p95_ms": p95}, error=error)
            for i, rate in enumerate(error_rates)]


def decide(series: list[Sample], now: float | None = None, window: float = 3600,
           criteria: list[Criterion] = CRITERIA) -> str:
    now = series[-1].taken_at if now is None else now
    return evaluate(series, [ERROR_5MIN, P95_NOW], criteria, POLICY, window, series[0].taken_at, now).status


@pytest.mark.parametrize(("rates", "expected"), [
    ([0.0, 2.0, 2.0, 2.0, 2.0, 2.0], "continue"),          # 4 minutes above 1 %: not yet sustained
    ([0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0], "breach"),       # 5 minutes above 1 %: roll back
    ([2.0, 2.0, 2.0, 0.5, 2.0, 2.0, 2.0], "continue"),     # a good sample resets the streak
], ids=["4-min-streak", "5-min-streak", "interrupted-streak"])
def test_sustained_triggers_need_their_whole_duration(rates: list[float], expected: str) -> None:
    assert decide(samples(*rates), criteria=[]) == expected  # the trigger alone (a criterion would fail at once)


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
    at_end = POLICY.model_copy(update={"judged_at_end": [Metric.ERROR_RATE_PERCENT]})
    verdict = evaluate(samples(0.0, 0.5, 0.02), [ERROR_5MIN], CRITERIA, at_end, 120, 0, 120)
    assert verdict.status == "breach" and "worst 0.5" in verdict.reason


def test_a_failed_success_criterion_rolls_back_at_once_not_at_the_end() -> None:
    """Seed 000: any failed success criterion means immediate rollback, 58 minutes before the window ends."""
    verdict = evaluate(samples(0.0, 0.5), [ERROR_5MIN], CRITERIA, POLICY, 3600, 0, 60)
    assert verdict.status == "breach" and verdict.severity == "P1"
    assert verdict.reason == ("success criterion failed at sample 2: error_rate_percent < 0.1 (measured 0.5); "
                              "immediate rollback")
    at_end = POLICY.model_copy(update={"judged_at_end": [Metric.ERROR_RATE_PERCENT]})  # the plan says: judge at end
    assert evaluate(samples(0.0, 0.5), [ERROR_5MIN], CRITERIA, at_end, 3600, 0, 60).status == "continue"


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


@pytest.mark.parametrize(("before", "after", "percent", "rise_ms"), [
    (5.0, 29.0, 480.0, 24.0),   # the real percentage: 24 ms on a 5 ms baseline is 480 %, never "0 %"
    (200.0, 260.0, 30.0, 60.0),  # a real service's p95: 30 % slower breaches "> 20 %"
    (None, 40.0, None, None),    # no baseline measured: no regression value, never a silent 0
    (0.0, 40.0, None, 40.0),     # a zero baseline has no percentage
], ids=["small-baseline", "real-service", "no-baseline", "zero-baseline"])
def test_latency_regression_is_the_real_number(before: float | None, after: float, percent: float | None,
                                               rise_ms: float | None) -> None:
    assert regression_percent(before, after) == percent
    assert regression_ms(before, after) == rise_ms


FLOORED = Criterion(metric=Metric.LATENCY_REGRESSION_PERCENT, op=Comparison.LE, threshold=20,
                    when={"metric": "latency_regression_ms", "op": ">", "threshold": 25})  # type: ignore[arg-type]


@pytest.mark.parametrize(("values", "outcome"), [
    ({"latency_regression_percent": 480.0, "latency_regression_ms": 24.0}, "successful"),  # under the floor
    ({"latency_regression_percent": 700.0, "latency_regression_ms": 35.0}, "failed"),      # past it: judged
    ({"latency_regression_percent": 10.0, "latency_regression_ms": 30.0}, "successful"),   # past it, within 20 %
    ({"latency_regression_percent": 700.0}, "inconclusive"),  # the condition's metric missing: never a pass
], ids=["under-floor", "past-floor", "within", "no-rise-measured"])
def test_a_relative_threshold_with_an_absolute_floor(values: dict[str, float], outcome: str) -> None:
    from include.launch.plugins.checks.base import evaluate as judge

    (result,) = judge([FLOORED], values)  # type: ignore[arg-type]
    assert result.outcome.value == outcome
    assert result.measured == values["latency_regression_percent"]  # reported as measured, floor or not
    assert result.as_dict()["when"] == "latency_regression_ms > 25"


def test_a_floored_trigger_fires_only_past_its_floor() -> None:
    trigger = RollbackTrigger(metric=Metric.LATENCY_REGRESSION_PERCENT, op=Comparison.GT, threshold=20,
                              when={"metric": "latency_regression_ms", "op": ">", "threshold": 25})  # type: ignore[arg-type]
    under = [Sample(0, "target", {"latency_regression_percent": 480.0, "latency_regression_ms": 24.0})]
    assert evaluate(under, [trigger], [], POLICY, 3600, 0, 0).status == "continue"
    over = [Sample(0, "target", {"latency_regression_percent": 700.0, "latency_regression_ms": 35.0})]
    verdict = evaluate(over, [trigger], [], POLICY, 3600, 0, 0)
    assert verdict.status == "breach" and "latency_regression_percent > 20 when latency_regression_ms > 25" in \
        verdict.reason

