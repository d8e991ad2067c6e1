"""Metrics scraped from the target's replicas (``/metrics`` in Prometheus text format).

Used before Phase 2 brings Prometheus. Counters are cumulative, so rates need two scrapes: a
Sample carries the raw counters and ``derive`` computes the interval's values from a pair.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from include.launch.plugins.metrics.histogram import quantile, subtract
from include.launch.plugins.metrics.sample import Sample

SOURCE = "target"
# Operational routes are not user traffic: they are left out of error rates and latency.
NOT_USER_TRAFFIC = ("/metrics", "/health", "/admin")
GAUGES = ("db_pool_in_use_connections", "db_pool_max_connections", "db_pool_min_connections",
          "cfur_users_active", "cfur_users_crashed")


def is_user_route(route: str) -> bool:
    return bool(route) and not route.startswith(NOT_USER_TRAFFIC)


def scrape_replica(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """Raw figures of one replica: request/error counts, latency and pool-wait buckets, pool gauges."""
    response = requests.get(f"{url.rstrip('/')}/metrics", timeout=timeout)
    response.raise_for_status()
    raw: dict[str, Any] = {"requests": 0.0, "errors": 0.0, "cache_hit": 0.0, "cache_miss": 0.0,
                           "latency": defaultdict(float), "wait": defaultdict(float), "queue_wait": defaultdict(float)}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "http_requests_total" and is_user_route(labels.get("route", "")):
                raw["requests"] += value
                if labels.get("status", "").startswith("5"):
                    raw["errors"] += value
            elif name == "http_request_duration_seconds_bucket" and is_user_route(labels.get("route", "")):
                raw["latency"][labels["le"]] += value
            elif name == "db_pool_wait_seconds_bucket":
                raw["wait"][labels["le"]] += value
            elif name == "forecast_queue_wait_seconds_bucket":
                raw["queue_wait"][labels["le"]] += value
            elif name in ("cache_hit_total", "cache_miss_total"):
                raw[name.removesuffix("_total")] += value
            elif name in GAUGES:
                raw[name] = value
    raw["latency"] = dict(raw["latency"])
    raw["wait"] = dict(raw["wait"])
    raw["queue_wait"] = dict(raw["queue_wait"])
    return raw


def scrape(replica_urls: list[str], timeout: float = 5.0) -> Sample:
    """One sample over every replica; an unreachable replica makes the whole sample an error."""
    raw: dict[str, Any] = {}
    for url in replica_urls:
        try:
            raw[url] = scrape_replica(url, timeout)
        except (requests.RequestException, ValueError) as exc:
            return Sample(time.time(), SOURCE, error=f"{url}: {type(exc).__name__}: {exc}")
    return Sample(time.time(), SOURCE, values=instant_values(raw), raw=raw)


def instant_values(raw: dict[str, Any]) -> dict[str, float | None]:
    """Gauges readable from one scrape: pool settings (minimum over replicas) and utilisation (max)."""
    if not raw:
        return {}
    replicas = list(raw.values())
    utilisation = [r["db_pool_in_use_connections"] / r["db_pool_max_connections"] * 100
                   for r in replicas if r.get("db_pool_max_connections")]
    active = sum(r.get("cfur_users_active", 0.0) for r in replicas)
    crashed = sum(r.get("cfur_users_crashed", 0.0) for r in replicas)
    has_cfur = any("cfur_users_active" in r for r in replicas)
    return {
        "pool_max": min(r.get("db_pool_max_connections", 0.0) for r in replicas),
        "pool_min": min(r.get("db_pool_min_connections", 0.0) for r in replicas),
        "pool_utilization_percent": max(utilisation) if utilisation else None,
        # Crash-free users: users without a 5xx in the service's window, over every replica.
        "cfur_percent": (active - crashed) / active * 100 if has_cfur and active > 0 else None,
    }


def _buckets(data: dict[str, float]) -> dict[float, float]:
    return {float(le): count for le, count in data.items()}


def derive(previous: Sample | None, current: Sample) -> Sample:
    """The current sample with interval rates filled in from the previous one (None without traffic)."""
    if current.error:
        return current
    values: dict[str, float | None] = dict(current.values)
    requests_delta = errors_delta = hits_delta = misses_delta = 0.0
    latency: dict[float, float] = {}
    wait: dict[float, float] = {}
    queue_wait: dict[float, float] = {}
    for url, now in current.raw.items():
        before = (previous.raw.get(url) if previous and not previous.error else None) or {}
        restarted = now["requests"] < before.get("requests", 0.0)
        base_requests = 0.0 if restarted else before.get("requests", 0.0)
        base_errors = 0.0 if restarted else before.get("errors", 0.0)
        requests_delta += now["requests"] - base_requests
        errors_delta += now["errors"] - base_errors
        hits_delta += now.get("cache_hit", 0.0) - (0.0 if restarted else before.get("cache_hit", 0.0))
        misses_delta += now.get("cache_miss", 0.0) - (0.0 if restarted else before.get("cache_miss", 0.0))
        for target, key in ((latency, "latency"), (wait, "wait"), (queue_wait, "queue_wait")):
            for bound, count in subtract(_buckets(now.get(key, {})), _buckets(before.get(key, {}))).items():
                target[bound] = target.get(bound, 0.0) + count
    p95 = quantile(0.95, latency)
    p99 = quantile(0.99, latency)
    wait_p95 = quantile(0.95, wait)
    queue_p95 = quantile(0.95, queue_wait)
    values.update({
        "error_rate_percent": errors_delta / requests_delta * 100 if requests_delta > 0 else None,
        "latency_p95_ms": p95 * 1000 if p95 is not None else None,
        "latency_p99_ms": p99 * 1000 if p99 is not None else None,
        "pool_wait_p95_ms": wait_p95 * 1000 if wait_p95 is not None else None,
        "queue_wait_p95_ms": queue_p95 * 1000 if queue_p95 is not None else None,
        "cache_hit_rate_percent": hits_delta / (hits_delta + misses_delta) * 100 if hits_delta + misses_delta > 0
        else None,
        "requests_in_interval": requests_delta,
    })
    return Sample(current.taken_at, current.source, values, current.raw, current.error)


def target_scrape(run: Any, params: Any, previous: Sample | None) -> Sample:
    """The ``target_scrape`` source: every replica of the plan's target, rates against ``previous``.
    Without a previous sample there is no interval: only the gauges (a rate over the replicas' whole
    life would mix the verification's load into the soak's first sample)."""
    from include.launch.plugins.target import Target

    target = Target.from_connection(run.spec.plan.connections.target_api)
    current = scrape(target.replicas, timeout=target.timeout)
    return current if previous is None else derive(previous, current)
