"""One sampler over a phase's ``metric_sources``: the soak, metric gates and verification all read
the same sources, merged into one Sample (a metric two sources provide comes from the first one
listed). A source that cannot be read makes the whole sample an error (the soak's error limit then
fails safe); nothing a source does not provide is ever reported."""

from __future__ import annotations

import time
from typing import Any

from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.metrics.catalog import ENGINE_DERIVED, SOURCES, provided_by
from include.launch.plugins.metrics.sample import Sample


def provided_metrics(run: PhaseRun) -> frozenset[str]:
    """Metrics the phase's sources measure, plus what the engine derives (plan check holds every
    trigger and criterion of the phase to this set)."""
    provided = set(ENGINE_DERIVED)
    for source in run.spec.phase.metric_sources:
        provided |= provided_by(source.kind, source.typed_params(SOURCES), run.spec.plan.scraped_metrics(),
                                run.spec.plan.promql_metrics())
    return frozenset(provided)


def _part(previous: Sample | None, name: str) -> Sample | None:
    """One source's share of the previous merged sample (its own raw counters)."""
    if previous is None or previous.error or name not in previous.raw:
        return None
    return Sample(previous.taken_at, name, previous.values, previous.raw[name])


def take_sample(run: PhaseRun, previous: Sample | None = None) -> Sample:
    """A merged, derived Sample (interval rates against ``previous`` when given)."""
    values: dict[str, float | None] = {}
    raw: dict[str, Any] = {}
    names = [source.task_name for source in run.spec.phase.metric_sources]
    for source in run.spec.phase.metric_sources:
        params = source.typed_params(SOURCES)
        measure = SOURCES.get(source.kind).load()
        part: Sample = measure(run, params, _part(previous, source.task_name))
        if part.error:
            return Sample(time.time(), "+".join(names), error=f"{source.task_name}: {part.error}")
        wanted = provided_by(source.kind, params, run.spec.plan.scraped_metrics(),
                             run.spec.plan.promql_metrics()) | {"requests_in_interval"}
        for name, value in part.values.items():  # the first source listed that measured a metric wins
            if name in wanted and values.get(name) is None:
                values[name] = value
        raw[source.task_name] = part.raw
    return Sample(time.time(), "+".join(names), values, raw)
