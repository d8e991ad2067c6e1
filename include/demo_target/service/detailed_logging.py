"""Detailed request logging for the tenants whose ``detailed_logging`` feature flag is on (seed 000:
the beta's first 72 hours are logged in detail). Phase 3 sets the flag per cohort tenant with an
expiry; the launch's flag-expiry DAG turns it off. The service reads the flags every
``refresh_seconds`` (not on every request) and honours ``expires_at`` itself as well.

Each detailed line goes to the ``demo_target.detailed`` logger (the replica's log file) and counts
in ``detailed_request_logs_total``, so a test or an operator sees that it is on.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

FLAG = "detailed_logging"
TENANT_PATH = re.compile(r"^/tenants/(\d+)/")
log = logging.getLogger("demo_target.detailed")
if not log.handlers:  # the replica's stdout is its log file; uvicorn configures only its own loggers
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s detailed %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class DetailedLogging:
    def __init__(self, pool: Any, counter: Any, refresh_seconds: float = 5.0) -> None:
        self._pool, self._counter, self.refresh_seconds = pool, counter, refresh_seconds
        self._tenants: frozenset[int] = frozenset()
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def stale(self) -> bool:
        """Whether the flag set is older than refresh_seconds (then ``refresh`` it off the event loop)."""
        return time.monotonic() - self._read_at >= self.refresh_seconds

    def refresh(self) -> None:
        """Re-read the tenants with the flag enabled and not expired; one reader at a time, and a
        database hiccup keeps the last known set (a request never fails for its log line)."""
        with self._lock:
            if not self.stale:
                return
            self._read_at = time.monotonic()
        try:
            with self._pool.connection() as conn:
                rows = conn.execute("SELECT tenant_id FROM feature_flags WHERE flag = %s AND enabled AND "
                                    "(expires_at IS NULL OR expires_at > now())", (FLAG,)).fetchall()
        except (psycopg.Error, PoolTimeout):
            return
        self._tenants = frozenset(int(r[0]) for r in rows)

    def observe(self, path: str, method: str, route: str, status: int, seconds: float, user: str) -> None:
        match = TENANT_PATH.match(path)
        if match is None or int(match.group(1)) not in self._tenants:
            return
        self._counter.inc()
        log.info("tenant=%s user=%s method=%s route=%s status=%s duration_ms=%.1f", match.group(1), user or "-",
                 method, route, status, seconds * 1000)
