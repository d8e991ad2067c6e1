"""The PromQL behind every plan metric that Prometheus can measure, and the metrics that must exist.

One table serves alert rules, dashboards and the verify check, so an alert and the panel that
explains it always compute the same number. Expressions are in the metric's unit (percent, ms).
"""

from __future__ import annotations

from include.launch.core.vocabulary import Metric

WINDOW = "$window"
SELECTOR = "$selector"

# Metric -> expression template; $selector scopes it to the launch's scrape job, $window is the rate window.
EXPRESSIONS: dict[Metric, str] = {
    Metric.ERROR_RATE_PERCENT: (
        "100 * (sum(rate(http_errors_total{$selector}[$window])) or vector(0))"
        " / clamp_min(sum(rate(http_requests_total{$selector}[$window])), 1e-9)"),
    Metric.LATENCY_P95_MS: (
        "1000 * histogram_quantile(0.95, sum by (le) "
        "(rate(http_request_duration_seconds_bucket{$selector}[$window])))"),
    Metric.LATENCY_P99_MS: (
        "1000 * histogram_quantile(0.99, sum by (le) "
        "(rate(http_request_duration_seconds_bucket{$selector}[$window])))"),
    Metric.POOL_UTILIZATION_PERCENT: (
        "100 * max(db_pool_in_use_connections{$selector} / clamp_min(db_pool_max_connections{$selector}, 1))"),
    Metric.POOL_WAIT_P95_MS: (
        "1000 * histogram_quantile(0.95, sum by (le) (rate(db_pool_wait_seconds_bucket{$selector}[$window])))"),
    Metric.DB_QUERY_P95_MS: (
        "1000 * histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket{$selector}[$window])))"),
    Metric.CACHE_HIT_RATE_PERCENT: (
        "100 * sum(rate(cache_hit_total{$selector}[$window]))"
        " / clamp_min(sum(rate(cache_hit_total{$selector}[$window])) + sum(rate(cache_miss_total{$selector}[$window])),"
        " 1e-9)"),
    Metric.QUEUE_WAIT_P95_MS: (
        "1000 * histogram_quantile(0.95, sum by (le) (rate(forecast_queue_wait_seconds_bucket{$selector}[$window])))"),
    Metric.UPTIME_PERCENT: "100 * avg(avg_over_time(up{$selector}[$window]))",
}

# "downtime" in the incident rules: a replica that does not answer its scrape.
DOWNTIME_EXPRESSION = "up{$selector} == 0"

# Every metric the documents ask to see (API, database, cache, queue, business), by area.
REQUIRED_METRICS: dict[str, list[str]] = {
    "api": ["http_requests_total", "http_request_duration_seconds_bucket"],
    "database": ["db_query_duration_seconds_bucket", "db_pool_in_use_connections", "db_pool_max_connections",
                 "db_pool_wait_seconds_bucket"],
    "cache": ["cache_hit_total", "cache_miss_total"],
    "queue": ["forecast_queue_depth", "forecast_queue_wait_seconds_bucket", "jobs_running_total"],
    "business": ["job_duration_seconds_bucket", "jobs_failed_total", "auth_failures_total"],
}


def required_metric_names() -> list[str]:
    return [name for names in REQUIRED_METRICS.values() for name in names]


def selector(job: str) -> str:
    return f'job="{job}"'


def render(template: str, job: str, window: str) -> str:
    """A template with the scrape job and rate window filled in."""
    return template.replace(SELECTOR, selector(job)).replace(WINDOW, window)


def expression(metric: Metric, job: str, window: str) -> str | None:
    """The PromQL for a plan metric, or None when Prometheus has no series for it."""
    template = EXPRESSIONS.get(metric)
    return None if template is None else render(template, job, window)
