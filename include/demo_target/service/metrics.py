"""Prometheus metrics named as in REQUIREMENTS.md, on a registry owned by one app instance.

A private CollectorRegistry keeps several apps in one process (tests) from colliding.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)


def _reader(pool_stats: Callable[[], dict[str, int]], key: str) -> Callable[[], float]:
    """Read one pool figure at scrape time, so the gauges never go stale after a reload."""
    return lambda: float(pool_stats()[key])


def gauge(metrics: Metrics, name: str, doc: str, read: Callable[[], float]) -> None:
    """A gauge read at scrape time (Redis memory, crash-free users)."""
    Gauge(name, doc, registry=metrics.registry).set_function(read)


class Metrics:
    """Every metric the service exports."""

    def __init__(self, pool_stats: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r)
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter("http_errors_total", "HTTP 5xx responses", ["route", "code"], registry=r)
        self.query = Histogram(
            "db_query_duration_seconds",
            "Database query duration",
            ["query_group"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pool_wait = Histogram(
            "db_pool_wait_seconds", "Time waiting for a pooled connection", buckets=WAIT_BUCKETS, registry=r
        )
        for name, key, doc in (
            ("db_pool_in_use_connections", "in_use", "Pooled connections in use"),
            ("db_pool_max_connections", "max", "Pool maximum size"),
            ("db_pool_min_connections", "min", "Pool minimum size"),
            ("db_pool_size_connections", "size", "Connections currently open in the pool"),
            ("db_pool_waiting_requests", "waiting", "Clients waiting for a connection"),
        ):
            Gauge(name, doc, registry=r).set_function(_reader(pool_stats, key))
        self.detailed_logs = Counter("detailed_request_logs", "Requests logged in detail (detailed_logging flag)",
                                     registry=r)
        self.cache_hit = Counter("cache_hit_total", "Forecast cache hits", registry=r)
        self.cache_miss = Counter("cache_miss_total", "Forecast cache misses", registry=r)
        self.cache_errors = Counter("cache_errors_total", "Redis calls that failed (served from the database)",
                                    registry=r)
        self.jobs_running = Gauge("jobs_running_total", "Background jobs running now", registry=r)
        self.jobs_failed = Counter("jobs_failed_total", "Background jobs failed", registry=r)
        self.job_duration = Histogram(
            "job_duration_seconds", "Background job duration", ["type"], buckets=JOB_BUCKETS, registry=r
        )
        self.auth_failures = Counter("auth_failures_total", "Rejected admin tokens", registry=r)
        self.rate_limited = Counter("rate_limit_trigger_total", "Requests refused with 429", ["route"], registry=r)
        self.queue_depth = Gauge("forecast_queue_depth", "Forecast jobs waiting in the queue", registry=r)
        self.queue_wait = Histogram(
            "forecast_queue_wait_seconds",
            "Forecast job wait from enqueue to start",
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.version_info = Gauge("app_version_info", "The deployed version of this replica", ["version"],
                                  registry=r)
        # Label sets known up front are exported at zero, so dashboards and checks see them at once.
        self.job_duration.labels(type="forecast")
        self.jobs_failed.inc(0)
