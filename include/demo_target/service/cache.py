"""A Redis-backed read cache that degrades to the database when Redis is away.

Every Redis call has a short socket timeout; after a failure the cache stays bypassed for
``retry_seconds`` (no request waits on a dead Redis), then tries again, so the service recovers
by itself when Redis comes back. Hits, misses and errors are counted for /metrics.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from include.demo_target.service.metrics import Metrics

log = logging.getLogger(__name__)
KEY_PREFIX = "recon:"


class RedisCache:
    """get/set/invalidate JSON values; ``status()`` says up, down or disabled."""

    def __init__(self, url: str, metrics: Metrics, ttl_seconds: float, retry_seconds: float = 1.0,
                 timeout_seconds: float = 0.25) -> None:
        self.url = url
        self.metrics = metrics
        self.ttl = max(int(ttl_seconds), 1)
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._last_error = ""
        self._lock = threading.Lock()
        self._client: Any = None
        if url:
            import redis

            self._client = redis.Redis.from_url(url, socket_timeout=timeout_seconds,
                                                socket_connect_timeout=timeout_seconds, retry_on_timeout=False,
                                                health_check_interval=0)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def _available(self) -> bool:
        return self._client is not None and time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if time.monotonic() >= self._down_until:
                log.warning("redis unavailable, serving from the database: %s", exc)
            self._down_until = time.monotonic() + self.retry_seconds
            self._last_error = f"{type(exc).__name__}: {exc}"
        self.metrics.cache_errors.inc()

    def get(self, key: str) -> Any | None:
        """The cached value, or None on a miss or when Redis is away (counted as a miss)."""
        if not self._available():
            self.metrics.cache_miss.inc()
            return None
        try:
            raw = self._client.get(KEY_PREFIX + key)
        except Exception as exc:  # noqa: BLE001 - any Redis failure degrades to the database
            self._failed(exc)
            self.metrics.cache_miss.inc()
            return None
        if raw is None:
            self.metrics.cache_miss.inc()
            return None
        self.metrics.cache_hit.inc()
        return json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        if not self._available():
            return
        try:
            self._client.set(KEY_PREFIX + key, json.dumps(value, default=str), ex=self.ttl)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def invalidate(self, *keys: str) -> None:
        if not self._available() or not keys:
            return
        try:
            self._client.delete(*(KEY_PREFIX + key for key in keys))
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def status(self) -> dict[str, Any]:
        """Pings Redis (bounded by the socket timeout): up / down / disabled, with the last error."""
        if self._client is None:
            return {"status": "disabled"}
        try:
            self._client.ping()
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return {"status": "down", "error": self._last_error}
        with self._lock:
            self._down_until = 0.0
        return {"status": "up"}

    def used_memory(self) -> float:
        """redis_used_memory_bytes at scrape time (NaN when Redis is away or disabled)."""
        if not self._available():
            return float("nan")
        try:
            return float(self._client.info("memory").get("used_memory", 0))
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return float("nan")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
