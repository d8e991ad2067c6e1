"""What the service checks share: where to send requests, who to send them as, secrets, scrapes.

- the entry URL: the target connection's ``extra.proxy.url`` when a proxy fronts the replicas
  (so checks see what users see), else the first replica;
- identities: a project, its owner and a non-owner of the same tenant, read from the target DB;
- secrets: resolved through Airflow's secrets backends (``Variable.get``: env
  ``AIRFLOW_VAR_<NAME>``, or AWS Secrets Manager / Vault when configured), never from the plan;
- bearer tokens: HS256 JWTs signed with the ``JWT_SECRET`` secret;
- service metrics: the target profile's, over every replica, with rates over an interval;
- one disruptive measurement at a time (load test, chaos, metric windows) via an advisory lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from include.launch.core.errors import ConfigurationError
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.metrics.sample import Sample

MEASUREMENT_LOCK = 7_318_001  # pg advisory lock key shared by every disruptive measurement


def target_extra(run: PhaseRun) -> dict[str, Any]:
    from include.launch.core.connections import get_connection

    return dict(get_connection(run.spec.plan.connections.target_api).extra_dejson or {})


def entry_url(run: PhaseRun) -> str:
    from include.launch.plugins.target import Target

    proxy = (target_extra(run).get("proxy") or {}).get("url")
    if proxy:
        return str(proxy).rstrip("/")
    return Target.from_connection(run.spec.plan.connections.target_api).replicas[0]


def secret(name: str) -> str | None:
    """A secret from Airflow's secrets backends (None when no backend holds it)."""
    from airflow.sdk import Variable

    try:
        value = Variable.get(name, default=None)
    except Exception:  # noqa: BLE001 - an unreachable backend is 'not resolved', reported by the caller
        return None
    return None if value is None else str(value)


def bearer(user_id: int | str, ttl_seconds: float = 3600.0) -> dict[str, str]:
    import jwt

    key = secret("JWT_SECRET")
    if not key:
        raise ConfigurationError("JWT_SECRET is not in the secrets backend: cannot act as a user")
    now = int(time.time())
    token = jwt.encode({"sub": str(user_id), "iat": now, "exp": now + int(ttl_seconds)}, key, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Identity:
    """A project, its owner, a non-owner of the same tenant and one of the project's jobs."""

    tenant_id: int
    project_id: int
    owner_id: int
    foreign_user_id: int
    job_id: int

    def fill(self, route: str) -> str:
        return route.format(tenant_id=self.tenant_id, project_id=self.project_id, job_id=self.job_id,
                            owner_id=self.owner_id)


def _hook(run: PhaseRun) -> Any:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=run.spec.plan.connections.target_db)


def identity(run: PhaseRun) -> Identity:
    row = _hook(run).get_first(
        "SELECT p.tenant_id, p.id, p.owner_id, "
        " (SELECT u.id FROM users u WHERE u.tenant_id = p.tenant_id AND u.id <> p.owner_id ORDER BY u.id LIMIT 1), "
        " (SELECT j.id FROM reconciliation_jobs j WHERE j.project_id = p.id ORDER BY j.id LIMIT 1) "
        "FROM projects p WHERE EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = p.tenant_id AND u.id <> p.owner_id)"
        " ORDER BY p.id LIMIT 1")
    if not row or None in row:
        raise ConfigurationError("the target database has no project with an owner, another member and a job")
    return Identity(*(int(value) for value in row))


def load_identities(run: PhaseRun, limit: int = 500) -> list[dict[str, int]]:
    """Users with their tenant and a job of that tenant: who the load test's virtual users act as."""
    rows = _hook(run).get_records(
        "SELECT u.id, u.tenant_id, min(j.id) FROM users u JOIN reconciliation_jobs j ON j.tenant_id = u.tenant_id "
        "GROUP BY u.id, u.tenant_id ORDER BY u.id LIMIT %s", parameters=(limit,))
    return [{"user_id": int(r[0]), "tenant_id": int(r[1]), "job_id": int(r[2])} for r in rows]


@contextmanager
def measurement_slot(run: PhaseRun) -> Iterator[None]:
    """Serialise disruptive measurements of a launch (parallel pre-checks must not overlap them)."""
    import psycopg

    with psycopg.connect(run.ledger.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MEASUREMENT_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MEASUREMENT_LOCK,))


# --- service metrics ------------------------------------------------------------------------

def scrape(run: PhaseRun, urls: list[str]) -> Sample:
    """Every replica's metrics at one moment, as the plan's target profile computes them."""
    from include.launch.plugins.metrics.target import metrics_profile
    from include.launch.plugins.metrics.target import scrape as scrape_replicas

    return scrape_replicas(urls, metrics_profile(run))


def interval_values(run: PhaseRun, before: Sample, after: Sample) -> dict[str, float | None]:
    """Rates between two scrapes, in the vocabulary's units (None = no traffic in the interval); a
    scrape that failed cannot be judged, and says which replica."""
    from include.launch.plugins.metrics.target import derive, metrics_profile

    for taken in (before, after):
        if taken.error:
            raise ConfigurationError(f"the service's metrics could not be read: {taken.error}")
    return derive(before, after, metrics_profile(run)).values

