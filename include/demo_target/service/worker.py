"""A forecast worker thread per replica draining the forecast_jobs queue (SKIP LOCKED).

It makes the queue and job metrics (depth, wait, running, failed, duration) honest measurements.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from include.demo_target.service.faults import FaultInjector
from include.demo_target.service.metrics import Metrics
from include.demo_target.service.pool import PoolHolder

log = logging.getLogger(__name__)

CLAIM = (
    "UPDATE forecast_jobs SET status = 'running', started_at = now() WHERE id = ("
    " SELECT id FROM forecast_jobs WHERE status = 'queued' ORDER BY enqueued_at, id"
    " FOR UPDATE SKIP LOCKED LIMIT 1)"
    " RETURNING id, tenant_id, EXTRACT(EPOCH FROM started_at - enqueued_at)::float8"
)
# Predicted cash: cash balance plus open receivables, from the tenant's own books.
COMPUTE = (
    "INSERT INTO forecasts (tenant_id, created_at, horizon_days, predicted_cash, confidence) "
    "SELECT %(t)s, now(), 30, "
    " COALESCE((SELECT sum(l.debit - l.credit) FROM journal_lines l JOIN accounts a ON a.id = l.account_id"
    "   WHERE a.tenant_id = %(t)s AND l.tenant_id = %(t)s AND a.code = '1000'), 0)"
    " + COALESCE((SELECT sum(total_amount) FROM invoices WHERE tenant_id = %(t)s AND status = 'open'), 0),"
    " 0.8 RETURNING id"
)


class ForecastWorker:
    """Polls the queue every ``interval`` seconds and runs one job per poll."""

    def __init__(self, pool: PoolHolder, metrics: Metrics, faults: FaultInjector, interval: float) -> None:
        self._pool, self._metrics, self._faults, self.interval = pool, metrics, faults, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="forecast-worker")

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self._faults.active.db_down:
                continue
            try:
                self.run_once()
            except Exception:  # the worker must survive database hiccups
                log.exception("forecast worker poll failed")

    def run_once(self) -> bool:
        """Claim and run one queued job; return whether there was one."""
        with self._pool.connection() as conn:
            depth = conn.execute("SELECT count(*) FROM forecast_jobs WHERE status = 'queued'").fetchone()
            self._metrics.queue_depth.set(int(depth[0]) if depth else 0)
            claimed = conn.execute(CLAIM).fetchone()
            conn.commit()
        if claimed is None:
            return False
        job_id, tenant_id, waited = claimed
        self._metrics.queue_wait.observe(max(float(waited), 0.0))
        self._metrics.jobs_running.inc()
        started = time.perf_counter()
        try:
            with self._pool.connection() as conn:
                if self._faults.job_should_fail():
                    raise RuntimeError("injected job failure")
                row = conn.execute(COMPUTE, {"t": tenant_id}).fetchone()
                conn.execute(
                    "UPDATE forecast_jobs SET status = 'finished', finished_at = now(), forecast_id = %s WHERE id = %s",
                    (row[0] if row else None, job_id),
                )
        except (psycopg.Error, RuntimeError) as exc:
            self._metrics.jobs_failed.inc()
            with self._pool.connection() as conn:
                conn.execute(
                    "UPDATE forecast_jobs SET status = 'failed', finished_at = now(), error = %s WHERE id = %s",
                    (str(exc)[:200], job_id),
                )
        finally:
            self._metrics.jobs_running.dec()
            self._metrics.job_duration.labels(type="forecast").observe(time.perf_counter() - started)
        return True
