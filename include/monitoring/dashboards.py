"""Three Grafana dashboards as JSON: executive overview, operations, business metrics.

Panels use the same PromQL as the alert rules (include.monitoring.promql), so a number on a
dashboard and the alert it explains never disagree. ``$__rate_interval`` is Grafana's own window;
the verify check substitutes the Prometheus rate window to see that every panel has data.
"""

from __future__ import annotations

from typing import Any

from include.launch.core.vocabulary import Metric
from include.monitoring import promql

RATE = "$__rate_interval"
TITLES = {"executive_overview": "Executive overview", "operations": "Operations",
          "business_metrics": "Business metrics"}


def _m(metric: Metric) -> str:
    return promql.EXPRESSIONS[metric].replace(promql.WINDOW, RATE)


def _q(text: str) -> str:
    return text.replace("$window", RATE)


# name -> [(panel title, unit, expression template with $selector)]
PANELS: dict[str, list[tuple[str, str, str]]] = {
    "executive_overview": [
        ("Error rate (%)", "percent", _m(Metric.ERROR_RATE_PERCENT)),
        ("API latency p95 (ms)", "ms", _m(Metric.LATENCY_P95_MS)),
        ("Uptime (%)", "percent", _m(Metric.UPTIME_PERCENT)),
        ("Requests per second", "reqps", _q("sum(rate(http_requests_total{$selector}[$window]))")),
        ("Firing alerts by severity", "short", 'count by (severity) (ALERTS{alertstate="firing"}) or vector(0)'),
    ],
    "operations": [
        ("API latency p95 (ms)", "ms", _m(Metric.LATENCY_P95_MS)),
        ("API latency p99 (ms)", "ms", _m(Metric.LATENCY_P99_MS)),
        ("5xx by route", "reqps", _q("sum by (route) (rate(http_errors_total{$selector}[$window])) or vector(0)")),
        ("Pool in use / max", "short",
         "sum(db_pool_in_use_connections{$selector}) / clamp_min(sum(db_pool_max_connections{$selector}), 1)"),
        ("Pool utilization (%)", "percent", _m(Metric.POOL_UTILIZATION_PERCENT)),
        ("Pool wait p95 (ms)", "ms", _m(Metric.POOL_WAIT_P95_MS)),
        ("DB query p95 by group (ms)", "ms", _q("1000 * histogram_quantile(0.95, sum by (le, query_group) "
                                               "(rate(db_query_duration_seconds_bucket{$selector}[$window])))")),
        ("Cache hit rate (%)", "percent", _m(Metric.CACHE_HIT_RATE_PERCENT)),
        ("Forecast queue depth", "short", "sum(forecast_queue_depth{$selector})"),
        ("Forecast queue wait p95 (s)", "s", _q("histogram_quantile(0.95, sum by (le) "
                                                "(rate(forecast_queue_wait_seconds_bucket{$selector}[$window])))")),
        ("Jobs running", "short", "sum(jobs_running_total{$selector})"),
        ("Targets up", "short", "sum by (job) (up)"),
        ("Rule evaluation failures", "short",
         _q('sum(increase(prometheus_rule_evaluation_failures_total{job="prometheus"}[$window]))')),
    ],
    "business_metrics": [
        ("Business requests by route", "reqps",
         _q("sum by (route) (rate(http_requests_total{$selector}[$window]))")),
        ("Forecast jobs completed per second", "ops",
         _q('sum(rate(job_duration_seconds_count{$selector,type="forecast"}[$window]))')),
        ("Forecast job duration p95 (s)", "s", _q("histogram_quantile(0.95, sum by (le) "
                                                  "(rate(job_duration_seconds_bucket{$selector}[$window])))")),
        ("Failed jobs", "short", "sum(jobs_failed_total{$selector})"),
        ("Cache hits / misses", "short",
         "sum(cache_hit_total{$selector}) / clamp_min(sum(cache_miss_total{$selector}), 1)"),
        ("Rejected admin tokens", "short", "sum(auth_failures_total{$selector})"),
    ],
}


def dashboard(name: str, job: str) -> dict[str, Any]:
    """One dashboard in Grafana's JSON model (schemaVersion 39), ready for the HTTP API or provisioning."""
    panels = []
    for index, (title, unit, template) in enumerate(PANELS[name]):
        panels.append({
            "id": index + 1, "type": "timeseries", "title": title,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": template.replace(promql.SELECTOR, promql.selector(job))}],
        })
    return {
        "uid": f"{job}-{name}".replace("_", "-")[:40], "title": f"{job}: {TITLES[name]}",
        "tags": ["launch", job], "timezone": "utc", "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": panels,
    }


def expressions(document: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in document.get("panels", []) for target in panel.get("targets", [])]


def missing_metrics(documents: list[dict[str, Any]]) -> list[str]:
    """Required metrics no panel of these dashboards shows (the dashboards must cover them all)."""
    text = "\n".join(expr for document in documents for expr in expressions(document))
    names = [n.removesuffix("_bucket") for n in promql.required_metric_names()]
    return [name for name in names if name not in text]
