"""Every metric source a plan's phase may name, with its params and what it measures.

The soak, metric gates and verification read a phase's ``metric_sources`` through one sampler
(``source.take_sample``). Each kind declares the vocabulary metrics it provides, so ``plan check``
refuses a trigger or criterion that no source of its phase can measure: nothing is dropped quietly.
Implementations are referenced as ``module:function`` and imported only when a task runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from include.launch.core.registry import Params, Registry
from include.launch.core.vocabulary import Metric

SOURCES = Registry("metric source")

# Derived by the engine from any source: the ledger's open incidents, the regression against the baseline.
ENGINE_DERIVED = frozenset({"active_incidents_count", "latency_regression_percent", "latency_regression_ms"})
# Not judged in the watch after a rollback: the incident that caused the rollback is open by definition.
NOT_WATCHED_AFTER_ROLLBACK = frozenset({"active_incidents_count"})


class TargetScrapeParams(Params):
    """The target's replicas (from the plan's ``target_api`` connection), their metrics scraped
    directly; what they measure is the target profile's ``metrics.scrape``."""


class PostgresStatsParams(Params):
    """conn_id: the database's connection (default: the plan's ``target_db``); reached over TCP like
    any client, so a database on another host is measured the same way."""

    conn_id: str = ""


class ExporterParams(Params):
    """conn_id: an http connection whose host is the exporter's base URL (its ``/metrics`` is
    scraped directly: no Prometheus server needed, so it works before Phase 2)."""

    conn_id: str = Field(min_length=1)


class PrometheusParams(Params):
    """conn_id: the Prometheus connection (default: the plan's ``prometheus``). queries: PromQL per
    metric, in the metric's unit, overriding or adding to the monitoring registry's expressions.
    window: the range the rates and averages use (default 5m)."""

    conn_id: str = ""
    queries: dict[Metric, str] = Field(default_factory=dict)
    window: str = Field(default="5m", pattern=r"^\d+[smh]$")


class QualitySourceParams(Params):
    """suite: the quality suite run at every sample; data_integrity_issues_count is its failed
    expectations (0 when the data holds)."""

    suite: Literal["integrity", "tenant_isolation"]


STATIC_PROVIDES: dict[str, frozenset[str]] = {
    "postgres_stats": frozenset({"connection_churn_count"}),
    "node_exporter": frozenset({"db_cpu_percent"}),
    "quality_suite": frozenset({"data_integrity_issues_count"}),
}

SOURCES.register_all("include.launch.plugins.metrics", [
    ("target_scrape", TargetScrapeParams, "target", "the replicas' own /metrics"),
    ("postgres_stats", PostgresStatsParams, "postgres_stats", "new server connections per minute (pg_stat_database)"),
    ("node_exporter", ExporterParams, "node_exporter", "the database host's CPU from its node exporter"),
    ("prometheus", PrometheusParams, "prometheus", "PromQL over Prometheus (after Phase 2 installs it)"),
    ("quality_suite", QualitySourceParams, "quality", "a quality suite's failed expectations at every sample"),
])


def provided_by(kind: str, params: Params, scraped: frozenset[str] = frozenset(),
                promql: frozenset[str] = frozenset()) -> frozenset[str]:
    """The vocabulary metrics one configured source measures; ``scraped`` / ``promql``: those the
    plan's target profile computes from the replicas' own metrics and in PromQL (``Plan.promql()``)."""
    if kind == "target_scrape":
        return scraped
    if kind == "prometheus":
        assert isinstance(params, PrometheusParams)
        return promql | frozenset(m.value for m in params.queries)
    return STATIC_PROVIDES[kind]
