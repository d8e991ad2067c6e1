"""A psycopg_pool pool that can be resized or replaced in place without failing in-flight requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from prometheus_client import Histogram
from psycopg_pool import ConnectionPool

from include.demo_target.config import Settings


def _open_pool(settings: Settings, replica: int) -> ConnectionPool:
    return ConnectionPool(
        settings.database_url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        timeout=settings.connection_timeout_ms / 1000,
        max_idle=settings.idle_timeout_ms / 1000,
        name=f"demo-target-{replica}",
        open=True,
    )


class PoolHolder:
    """Owns the current pool; ``apply`` resizes it, or swaps it when the database URL changes."""

    def __init__(self, settings: Settings, replica: int, wait_histogram: Histogram) -> None:
        self._lock = threading.Lock()
        self._replica = replica
        self._wait = wait_histogram
        self.settings = settings
        self.pool = _open_pool(settings, replica)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection (committed on success); the wait for it goes into the histogram."""
        pool = self.pool
        started = time.perf_counter()
        with pool.connection() as conn:
            self._wait.observe(time.perf_counter() - started)
            yield conn

    def stats(self) -> dict[str, int]:
        """Pool figures for /health and /metrics."""
        pool, settings = self.pool, self.settings
        raw = pool.get_stats()
        size, idle = raw.get("pool_size", 0), raw.get("pool_available", 0)
        return {
            "max": pool.max_size,
            "min": pool.min_size,
            "size": size,
            "in_use": max(size - idle, 0),
            "idle": idle,
            "waiting": raw.get("requests_waiting", 0),
            "idle_timeout_ms": settings.idle_timeout_ms,
            "connection_timeout_ms": settings.connection_timeout_ms,
        }

    def apply(self, settings: Settings) -> str:
        """Move to ``settings``: resize in place, or replace the pool if the database URL changed."""
        with self._lock:
            old = self.pool
            if settings.database_url == self.settings.database_url:
                old.resize(settings.pool_min, settings.pool_max)
                old.timeout = settings.connection_timeout_ms / 1000
                old.max_idle = settings.idle_timeout_ms / 1000
                self.settings = settings
                return "resized"
            self.pool = _open_pool(settings, self._replica)
            self.settings = settings
        threading.Thread(target=self._retire, args=(old,), daemon=True, name="pool-retire").start()
        return "replaced"

    @staticmethod
    def _retire(pool: ConnectionPool, grace_seconds: float = 30.0) -> None:
        """Close an old pool once its borrowers are done (closing fails waiting clients)."""
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            stats = pool.get_stats()
            if stats.get("requests_waiting", 0) == 0 and stats.get("pool_size", 0) == stats.get("pool_available", 0):
                break
            time.sleep(0.1)
        pool.close()

    def close(self) -> None:
        self.pool.close()
