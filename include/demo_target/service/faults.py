"""Fault injection (error rate, latency, pool saturation, database down, crash); off unless enabled.

Faults are only accepted when DEMO_TARGET_FAULTS_ENABLED=1, so a production-like run cannot be
broken by a stray admin call; the active set is always visible in /health.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel, Field

from include.demo_target.service.pool import PoolHolder

log = logging.getLogger(__name__)
CRASH_EXIT_CODE = 70


class FaultRequest(BaseModel):
    """Body of POST /admin/faults."""

    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(0, ge=0, le=60_000)
    pool_saturation: int = Field(0, ge=0, le=10_000)
    db_down: bool = False
    crash: bool = False


@dataclass
class ActiveFaults:
    error_rate: float = 0.0
    latency_ms: int = 0
    pool_saturation: int = 0
    db_down: bool = False
    crash: bool = False

    def any_set(self) -> bool:
        return self != ActiveFaults()


class FaultInjector:
    """Holds the active faults and the connections held to saturate the pool."""

    def __init__(self, enabled: bool, pool: PoolHolder, seed: int | None = None) -> None:
        self.enabled = enabled
        self._pool = pool
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.active = ActiveFaults()
        self._held: list[tuple[ConnectionPool, psycopg.Connection]] = []

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = asdict(self.active)
        data["enabled"] = self.enabled
        data["held_connections"] = len(self._held)
        data["any_active"] = self.active.any_set()
        return data

    def set(self, request: FaultRequest) -> None:
        with self._lock:
            self._release()
            self.active = ActiveFaults(**request.model_dump())
            self._hold(request.pool_saturation)
        if request.crash:
            log.warning("fault injection: crashing this replica")
            threading.Timer(0.2, os._exit, args=(CRASH_EXIT_CODE,)).start()

    def clear(self) -> None:
        with self._lock:
            self._release()
            self.active = ActiveFaults()

    def _hold(self, count: int) -> None:
        pool = self._pool.pool
        for _ in range(count):
            try:
                self._held.append((pool, pool.getconn(timeout=self._pool.settings.connection_timeout_ms / 1000)))
            except PoolTimeout:
                break  # asked for more than the pool can give: it is saturated

    def _release(self) -> None:
        for pool, conn in self._held:
            pool.putconn(conn)
        self._held.clear()

    def before_tenant_request(self) -> int | None:
        """Apply latency; return an HTTP status to fail with (503 db down, 500 injected), else None."""
        faults = self.active
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if faults.db_down:
            return 503
        if faults.error_rate and self._rng.random() < faults.error_rate:
            return 500
        return None

    def job_should_fail(self) -> bool:
        rate = self.active.error_rate
        return bool(rate) and self._rng.random() < rate
