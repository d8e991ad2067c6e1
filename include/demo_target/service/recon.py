"""The reconciliation API (Launch B): tenant-scoped jobs and results behind bearer tokens.

Reads go through the Redis cache first, so they keep working while the database is away;
mutations check the project permission (only the project's owner may start a job: 403 for
anyone else, 401 without a valid token) and invalidate what they change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field

from include.demo_target.service.cache import RedisCache
from include.demo_target.service.metrics import Metrics
from include.demo_target.service.pool import PoolHolder

JOBS_ROUTE = "/tenants/{tenant_id}/reconciliation/jobs"
RESULTS_ROUTE = "/tenants/{tenant_id}/reconciliation/jobs/{job_id}/results"
PROJECTS_ROUTE = "/tenants/{tenant_id}/projects"
ROUTES = (JOBS_ROUTE, RESULTS_ROUTE, PROJECTS_ROUTE)


class NewJob(BaseModel):
    """Body of POST .../reconciliation/jobs."""

    project_id: int = Field(ge=1)


def build_router(pool: Callable[[], PoolHolder], cache: Callable[[], RedisCache], metrics: Metrics,
                 before: Callable[[], int | None] = lambda: None) -> APIRouter:
    """``before`` runs first in every handler (fault injection): a status it returns is the answer."""
    router = APIRouter()

    def user_of(request: Request) -> int:
        failure = before()
        if failure == 503:
            raise HTTPException(status_code=503, detail="database unavailable")
        if failure == 500:
            raise HTTPException(status_code=500, detail="injected error")
        user = getattr(request.state, "user", None)
        if user is None:
            metrics.auth_failures.inc()
            raise HTTPException(status_code=401, detail="a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        return int(user)

    def query(group: str, run: Callable[[psycopg.Connection], Any]) -> Any:
        try:
            with pool().connection() as conn, metrics.query.labels(query_group=group).time():
                return jsonable_encoder(run(conn))
        except PoolTimeout as exc:
            raise HTTPException(status_code=503, detail="no database connection available") from exc
        except psycopg.OperationalError as exc:
            raise HTTPException(status_code=503, detail="database unavailable") from exc

    def cached(key: str, group: str, run: Callable[[psycopg.Connection], Any]) -> Any:
        value = cache().get(key)
        if value is not None:
            return value
        value = query(group, run)
        cache().set(key, value)
        return value

    def member(tenant_id: int, user_id: int) -> None:
        """The user belongs to the tenant (tenant isolation), else 403."""
        def lookup(conn: psycopg.Connection) -> Any:
            row = conn.execute("SELECT tenant_id FROM users WHERE id = %s", (user_id,)).fetchone()
            return None if row is None else row[0]

        if cached(f"user:{user_id}:tenant", "users", lookup) != tenant_id:
            raise HTTPException(status_code=403, detail="not a member of this tenant")

    @router.get(JOBS_ROUTE)
    def list_jobs(tenant_id: int, request: Request, project_id: int | None = None) -> Any:
        member(tenant_id, user_of(request))

        def run(conn: psycopg.Connection) -> Any:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SELECT id, project_id, status, created_at FROM reconciliation_jobs WHERE tenant_id = %s "
                            "AND (%s::bigint IS NULL OR project_id = %s) ORDER BY id DESC LIMIT 50",
                            (tenant_id, project_id, project_id))
                return cur.fetchall()

        return {"tenant_id": tenant_id, "jobs": cached(f"jobs:{tenant_id}:{project_id}", "jobs", run)}

    @router.get(RESULTS_ROUTE)
    def job_results(tenant_id: int, job_id: int, request: Request) -> Any:
        member(tenant_id, user_of(request))

        def run(conn: psycopg.Connection) -> Any:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SELECT id, matched, amount FROM reconciliation_results WHERE job_id = %s "
                            "AND tenant_id = %s ORDER BY id", (job_id, tenant_id))
                return cur.fetchall()

        return {"tenant_id": tenant_id, "job_id": job_id, "results": cached(f"results:{job_id}", "results", run)}

    @router.get(PROJECTS_ROUTE)
    def projects(tenant_id: int, request: Request) -> Any:
        user = user_of(request)
        member(tenant_id, user)

        def run(conn: psycopg.Connection) -> Any:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SELECT id, name FROM projects WHERE owner_id = %s AND tenant_id = %s ORDER BY id",
                            (user, tenant_id))
                return cur.fetchall()

        return {"tenant_id": tenant_id, "projects": cached(f"projects:{user}", "projects", run)}

    @router.post(JOBS_ROUTE, status_code=201)
    def create_job(tenant_id: int, body: NewJob, request: Request) -> Any:
        user = user_of(request)

        def run(conn: psycopg.Connection) -> Any:
            row = conn.execute("SELECT owner_id FROM projects WHERE id = %s AND tenant_id = %s",
                               (body.project_id, tenant_id)).fetchone()
            if row is None:
                raise HTTPException(status_code=404, detail="no such project in this tenant")
            if int(row[0]) != user:  # check_project_permission
                metrics.auth_failures.inc()
                raise HTTPException(status_code=403, detail="no permission on this project")
            job = conn.execute("INSERT INTO reconciliation_jobs (tenant_id, project_id, status, created_at) "
                               "VALUES (%s, %s, 'queued', now()) RETURNING id", (tenant_id, body.project_id)).fetchone()
            assert job is not None
            return int(job[0])

        job_id = query("jobs_insert", run)
        cache().invalidate(f"jobs:{tenant_id}:{body.project_id}", f"jobs:{tenant_id}:None")
        return {"tenant_id": tenant_id, "job_id": job_id, "status": "queued"}

    return router
