"""Synthetic load with honest statistics: every request timed end to end, failures counted, not dropped.

Requests go concurrently (a thread pool, one keep-alive connection pool per worker) round-robin over the
replicas and the target profile's routes. Percentiles are exact (nearest rank over every
request), not sampled.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import urllib3


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    duration_seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def error_rate_percent(self) -> float:
        return self.failures / self.count * 100 if self.count else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = max(math.ceil(q * len(ordered)) - 1, 0)
        return ordered[rank]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.count, "failures": self.failures, "error_rate_percent": round(self.error_rate_percent, 4),
            "p50_ms": self.percentile(0.50), "p95_ms": self.percentile(0.95), "p99_ms": self.percentile(0.99),
            "max_ms": max(self.latencies_ms, default=None), "duration_seconds": round(self.duration_seconds, 3),
            "throughput_rps": round(self.count / self.duration_seconds, 1) if self.duration_seconds else None,
            "statuses": self.statuses,
        }


def run_load(urls: list[str], *, total: int, concurrency: int, timeout: float = 10.0) -> LoadResult:
    """Send ``total`` GETs over ``urls`` (cycled) with ``concurrency`` workers; 5xx and errors are failures."""
    result = LoadResult()
    lock = threading.Lock()
    local = threading.local()

    def one(index: int) -> None:
        # urllib3 directly: requests' per-call overhead would show up as latency on a 2-core box.
        pool = getattr(local, "pool", None)
        if pool is None:
            pool = local.pool = urllib3.PoolManager(maxsize=1, retries=False, timeout=timeout)
        url = urls[index % len(urls)]
        started = time.perf_counter()
        try:
            response = pool.request("GET", url, preload_content=True)
            status = str(response.status)
        except urllib3.exceptions.HTTPError as exc:
            status = type(exc).__name__
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            result.latencies_ms.append(elapsed)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if not status.isdigit() or int(status) >= 500:
                result.failures += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(total)))
    result.duration_seconds = time.perf_counter() - started
    return result


def route_urls(replicas: list[str], routes: list[tuple[str, int]], tenant_ids: list[int]) -> list[str]:
    """The profile's routes (path, weight), each tenant's in turn, interleaved across the replicas.

    A route without ``{tenant}`` is sent once per round, not once per tenant."""
    urls: list[str] = []
    rounds: list[int | None] = list(tenant_ids) or [None]
    for index, tenant in enumerate(rounds):
        offset = 0
        for path, weight in routes:
            if "{tenant}" in path and tenant is None:
                continue
            for _ in range(weight):
                urls.append(f"{replicas[(index + offset) % len(replicas)]}{path.replace('{tenant}', str(tenant))}")
                offset += 1
    return urls
