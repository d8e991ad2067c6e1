"""The FastAPI app: tenant endpoints over a real pool, /health, /metrics and token-guarded admin.

Run with ``uvicorn include.demo_target.service.app:create_app --factory``; configuration comes from
the env file named by DEMO_TARGET_ENV_FILE (see include.demo_target.config).
"""

from __future__ import annotations

import hmac
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio.to_thread
import psycopg
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import PoolTimeout
from starlette.routing import Match

from include.demo_target.config import (
    ADMIN_TOKEN_VAR,
    FAULTS_ENABLED_VAR,
    REPLICA_VAR,
    Settings,
    load_settings,
)
from include.demo_target.service import auth, queries, recon
from include.demo_target.service.cache import RedisCache
from include.demo_target.service.cfur import CrashFreeUsers
from include.demo_target.service.detailed_logging import DetailedLogging
from include.demo_target.service.faults import FaultInjector, FaultRequest
from include.demo_target.service.metrics import Metrics, gauge
from include.demo_target.service.pool import PoolHolder
from include.demo_target.service.worker import ForecastWorker
from include.demo_target.versions import release_for

log = logging.getLogger(__name__)
TENANT_ROUTES = (
    "/tenants/{tenant_id}/invoices",
    "/tenants/{tenant_id}/payments",
    "/tenants/{tenant_id}/trial-balance",
    "/tenants/{tenant_id}/forecast",
    "/tenants/{tenant_id}/forecast/refresh",
    *recon.ROUTES,
)


class Runtime:
    """Per-app state: settings, pool, metrics, faults, cache, rate limiter, worker."""

    def __init__(self, settings: Settings) -> None:
        self.replica = int(os.environ.get(REPLICA_VAR, "0"))
        self.settings = settings
        self.started_at = time.time()
        self.metrics = Metrics(lambda: self.pool.stats())
        self.pool = PoolHolder(settings, self.replica, self.metrics.pool_wait)
        self.faults = FaultInjector(os.environ.get(FAULTS_ENABLED_VAR) == "1", self.pool)
        self.worker = ForecastWorker(self.pool, self.metrics, self.faults, settings.worker_interval_seconds)
        self.cache: dict[int, tuple[float, Any]] = {}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._bucket_lock = threading.Lock()
        for route in TENANT_ROUTES:
            self.metrics.rate_limited.labels(route=route)
        self.redis = RedisCache(settings.redis_url, self.metrics, settings.cache_ttl_seconds)
        self.detailed = DetailedLogging(self.pool, self.metrics.detailed_logs)
        self.cfur = CrashFreeUsers(settings.cfur_window_seconds)
        self.release = release_for(settings.version)
        self.metrics.version_info.labels(version=settings.version).set(1)
        self._recent: list[float] = []
        self.rng = random.Random()
        gauge(self.metrics, "redis_used_memory_bytes", "Memory Redis reports in use", self.redis.used_memory)
        gauge(self.metrics, "cfur_users_active", "Users seen within the CFUR window", lambda: self.cfur.counts()[0])
        gauge(self.metrics, "cfur_users_crashed", "Users with a 5xx within the CFUR window",
              lambda: self.cfur.counts()[1])
        gauge(self.metrics, "crash_free_users_percent", "Crash-free users within the window", self.cfur.percent)

    def overloaded_failure(self) -> bool:
        """The release's own misbehaviour under load (see include.demo_target.versions)."""
        release = self.release
        if not release.overload_rps:
            return False
        now = time.monotonic()
        with self._bucket_lock:
            self._recent = [t for t in self._recent if t > now - 2.0]
            self._recent.append(now)
            rate = len(self._recent) / 2.0
        return rate > release.overload_rps and self.rng.random() < release.overload_error_rate

    def allow(self, client: str, route: str) -> bool:
        """Token bucket per client and route, RATE_LIMIT_RPS tokens a second (0 = unlimited)."""
        rate = self.settings.rate_limit_rps
        if rate <= 0:
            return True
        now = time.monotonic()
        with self._bucket_lock:
            tokens, last = self._buckets.get((client, route), (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            allowed = tokens >= 1
            self._buckets[(client, route)] = (tokens - 1 if allowed else tokens, now)
        return allowed

    def reload(self) -> dict[str, Any]:
        before = self.settings.pool_dict()
        settings = load_settings()
        action = self.pool.apply(settings)
        self.settings = settings
        return {
            "action": action,
            "before": before,
            "after": settings.pool_dict(),
            "version": settings.version,
        }


def _route_of(app: FastAPI, scope: MutableMapping[str, Any]) -> str:
    """The route template (``/tenants/{tenant_id}/invoices``), never the raw path."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


def _check_admin(runtime: Runtime, request: Request) -> None:
    expected = os.environ.get(ADMIN_TOKEN_VAR, "")
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else ""
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        runtime.metrics.auth_failures.inc()
        raise HTTPException(
            status_code=401, detail="missing or invalid admin token", headers={"WWW-Authenticate": "Bearer"}
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings default to the env file named by DEMO_TARGET_ENV_FILE."""
    runtime = Runtime(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 200
        runtime.worker.start()
        yield
        runtime.worker.stop()
        runtime.faults.clear()
        runtime.redis.close()
        runtime.pool.close()

    app = FastAPI(title="demo-target", version=runtime.settings.version, lifespan=lifespan)
    app.state.runtime = runtime
    metrics = runtime.metrics
    app.include_router(recon.build_router(lambda: runtime.pool, lambda: runtime.redis, metrics,
                                         runtime.faults.before_tenant_request))

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        route = _route_of(app, request.scope)
        started = time.perf_counter()
        user = auth.subject(runtime.settings.jwt_secret, request.headers.get("authorization", ""))
        request.state.user = user
        client = f"user:{user}" if user else (request.client.host if request.client else "-")
        if route.startswith("/tenants/") and not runtime.allow(client, route):
            metrics.rate_limited.labels(route=route).inc()
            response: Response = JSONResponse({"detail": "rate limited"}, status_code=429)
        elif route in recon.ROUTES and runtime.overloaded_failure():
            response = JSONResponse({"detail": "internal error"}, status_code=500)
        else:
            response = await call_next(request)
        response.headers["X-App-Version"] = runtime.settings.version
        if route != "/metrics":
            metrics.requests.labels(method=request.method, route=route, status=str(response.status_code)).inc()
            metrics.duration.labels(route=route).observe(time.perf_counter() - started)
            if response.status_code >= 500:
                metrics.errors.labels(route=route, code=str(response.status_code)).inc()
            if route.startswith("/tenants/"):
                # a crash is an unhandled error (500); a graceful 503 while degraded is not
                runtime.cfur.observe(client, response.status_code >= 500 and response.status_code != 503)
                if runtime.detailed.stale:  # every few seconds, off the event loop
                    await anyio.to_thread.run_sync(runtime.detailed.refresh)
                runtime.detailed.observe(request.url.path, request.method, route, response.status_code,
                                         time.perf_counter() - started, user or "")
        return response

    def tenant_query(tenant_id: int, group: str, run: Callable[[psycopg.Connection], Any]) -> Any:
        """Faults, pool, tenant check and timing shared by every tenant endpoint."""
        failure = runtime.faults.before_tenant_request()
        if failure == 503:
            raise HTTPException(status_code=503, detail="database unavailable")
        if failure == 500:
            raise HTTPException(status_code=500, detail="injected error")
        try:
            with runtime.pool.connection() as conn:
                started = time.perf_counter()
                if not queries.tenant_exists(conn, tenant_id):
                    raise HTTPException(status_code=404, detail="no such tenant")
                result = run(conn)
                metrics.query.labels(query_group=group).observe(time.perf_counter() - started)
                return jsonable_encoder(result)
        except PoolTimeout as exc:
            raise HTTPException(status_code=503, detail="no database connection available") from exc
        except psycopg.OperationalError as exc:
            raise HTTPException(status_code=503, detail="database unavailable") from exc

    @app.get("/tenants/{tenant_id}/invoices")
    def get_invoices(tenant_id: int) -> Any:
        return {
            "tenant_id": tenant_id,
            "invoices": tenant_query(tenant_id, "invoices", lambda c: queries.invoices(c, tenant_id)),
        }

    @app.post("/tenants/{tenant_id}/invoices", status_code=201)
    def post_invoice(tenant_id: int) -> Any:
        """A user issuing an invoice: writes the invoice, its line and its balanced ledger entry."""
        quantity, price = runtime.rng.randrange(1, 10), Decimal(runtime.rng.randrange(500, 100_000)) / 100
        return tenant_query(tenant_id, "invoice_write", lambda c: queries.create_invoice(c, tenant_id, quantity, price))

    @app.post("/tenants/{tenant_id}/payments", status_code=201)
    def post_payment(tenant_id: int) -> Any:
        """A user recording a payment against the oldest open invoice (204 when nothing is open)."""
        paid = tenant_query(tenant_id, "payment_write", lambda c: queries.record_payment(c, tenant_id))
        return paid if paid is not None else Response(status_code=204)

    @app.get("/tenants/{tenant_id}/trial-balance")
    def get_trial_balance(tenant_id: int) -> Any:
        return {
            "tenant_id": tenant_id,
            **tenant_query(tenant_id, "trial_balance", lambda c: queries.trial_balance(c, tenant_id)),
        }

    @app.get("/tenants/{tenant_id}/forecast")
    def get_forecast(tenant_id: int) -> Any:
        cached = runtime.cache.get(tenant_id)
        if cached and cached[0] > time.monotonic() and not runtime.faults.active.any_set():
            metrics.cache_hit.inc()
            return {"tenant_id": tenant_id, "forecast": cached[1], "cached": True}
        metrics.cache_miss.inc()
        forecast = tenant_query(tenant_id, "forecast", lambda c: queries.latest_forecast(c, tenant_id))
        runtime.cache[tenant_id] = (time.monotonic() + runtime.settings.cache_ttl_seconds, forecast)
        return {"tenant_id": tenant_id, "forecast": forecast, "cached": False}

    @app.post("/tenants/{tenant_id}/forecast/refresh", status_code=202)
    def refresh_forecast(tenant_id: int) -> Any:
        return {
            "tenant_id": tenant_id,
            "job_id": tenant_query(tenant_id, "forecast_enqueue", lambda c: queries.enqueue_forecast(c, tenant_id)),
        }

    @app.get("/health")
    def health() -> Any:
        database = _database_status(runtime)
        healthy = database == "up"
        redis_status = runtime.redis.status()
        body = {
            "status": "ok" if healthy and redis_status["status"] != "down" else "degraded",
            "version": runtime.settings.version,
            "release_note": runtime.release.note,
            "redis": redis_status,
            "auth": {"jwt_secret_configured": bool(runtime.settings.jwt_secret),
                     "jwt_secret_fingerprint": auth.fingerprint(runtime.settings.jwt_secret)},
            "sentry_configured": bool(runtime.settings.sentry_dsn),
            "replica": runtime.replica,
            "pid": os.getpid(),
            "uptime_seconds": round(time.time() - runtime.started_at, 3),
            "database": {"status": database},
            "pool": runtime.pool.stats(),
            "faults": runtime.faults.snapshot(),
        }
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/reload")
    def admin_reload(request: Request) -> Any:
        _check_admin(runtime, request)
        try:
            result = runtime.reload()
        except (OSError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=f"invalid env file: {exc}") from exc
        runtime.cache.clear()
        log.info("pool config reloaded: %s -> %s", result["before"], result["after"])
        return {**result, "pool": runtime.pool.stats()}

    @app.post("/admin/faults")
    def admin_set_faults(request: Request, body: FaultRequest) -> Any:
        _check_admin(runtime, request)
        if not runtime.faults.enabled:
            raise HTTPException(status_code=403, detail=f"fault injection is disabled; set {FAULTS_ENABLED_VAR}=1")
        runtime.faults.set(body)
        return {"faults": runtime.faults.snapshot()}

    @app.delete("/admin/faults")
    def admin_clear_faults(request: Request) -> Any:
        _check_admin(runtime, request)
        runtime.faults.clear()
        return {"faults": runtime.faults.snapshot()}

    return app


def _database_status(runtime: Runtime) -> str:
    """``down`` under the db_down fault or when SELECT 1 fails.

    A saturated pool is not a database outage, so a pool timeout falls back to a direct connection.
    """
    if runtime.faults.active.db_down:
        return "down"
    try:
        with runtime.pool.pool.connection(timeout=1.0) as conn:
            conn.execute("SELECT 1")
        return "up"
    except PoolTimeout:
        pass
    except psycopg.Error:
        return "down"
    try:
        with psycopg.connect(runtime.settings.database_url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return "up"
    except psycopg.Error:
        return "down"
