"""Pick the metric source for a run: Prometheus when the plan's connection resolves, else a scrape."""

from __future__ import annotations

from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.metrics import target as target_source
from include.launch.plugins.metrics.sample import Sample
from include.launch.plugins.target import Target

# Derived by the engine from any source: the ledger's open incidents, the regression against the baseline.
ENGINE_DERIVED = frozenset({"active_incidents_count", "latency_regression_percent", "latency_regression_ms"})


def provided_metrics(run: PhaseRun) -> frozenset[str]:
    """Metrics the run's source can measure; a trigger on anything else is 'not covered', not 'no data'."""
    return target_source.PROVIDES | ENGINE_DERIVED


def take_sample(run: PhaseRun, previous: Sample | None = None) -> Sample:
    """A derived Sample (interval rates against ``previous`` when given)."""
    target = Target.from_connection(run.spec.plan.connections.target_api)
    current = target_source.scrape(target.replicas, timeout=target.timeout)
    return target_source.derive(previous, current)
