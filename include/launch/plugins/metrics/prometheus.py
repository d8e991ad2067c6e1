"""Metrics from Prometheus: the monitoring registry's PromQL (the same expressions the alert rules
and dashboards use), or the plan's own queries. Available once Phase 2 has installed monitoring."""

from __future__ import annotations

import time
from typing import Any

from include.launch.plugins.metrics.sample import Sample

SOURCE = "prometheus"


def prometheus(run: Any, params: Any, previous: Sample | None) -> Sample:
    from include.launch.core.connections import optional_http_url
    from include.launch.core.vocabulary import Metric
    from include.launch.plugins.metrics.catalog import provided_by
    from include.monitoring.client import first_value, query
    from include.monitoring.promql import expression

    now = time.time()
    conn_id = params.conn_id or run.spec.plan.connections.prometheus
    base = optional_http_url(conn_id, 9090)
    if base is None:
        return Sample(now, SOURCE, error=f"no Prometheus connection {conn_id!r}")
    job = run.spec.plan.launch.id  # the scrape job Phase 2's monitoring installs
    values: dict[str, float | None] = {}
    try:
        templates = run.spec.plan.promql()
        for metric in sorted(provided_by("prometheus", params, promql=run.spec.plan.promql_metrics())):
            expr = params.queries.get(Metric(metric)) or expression(templates, Metric(metric), job, params.window)
            if expr is None:
                raise RuntimeError(f"no PromQL for {metric}")
            result = query(base, expr)
            values[metric] = first_value(result)
    except Exception as exc:  # noqa: BLE001 - an unreadable source is an error sample, never a pass
        return Sample(now, SOURCE, error=f"{base}: {type(exc).__name__}: {exc}")
    return Sample(now, SOURCE, values)
