"""What the service checks share: where to send requests, who to send them as, secrets, scrapes.

- the entry URL: the target connection's ``extra.proxy.url`` when a proxy fronts the replicas
  (so checks see what users see), else the first replica;
- identities: a project, its owner and a non-owner of the same tenant, read from the target DB
  with the target profile's SQL (``users``);
- secrets: resolved through Airflow's secrets backends (``Variable.get``: env
  ``AIRFLOW_VAR_<NAME>``, or AWS Secrets Manager / Vault when configured), never from the plan;
- bearer tokens: HS256 JWTs signed with the target profile's ``users.token_secret``;
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
from include.launch.plan.profile import UsersProfile
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


def users_profile(run: PhaseRun) -> UsersProfile:
    """How this launch's checks act as its users (plan check refuses a check that needs it without one)."""
    profile = run.spec.plan.target_profile
    if profile is None or profile.users is None:
        raise ConfigurationError("target_profile.users: not declared: no check can act as the service's users")
    return profile.users


def signing_key(run: PhaseRun) -> str:
    name = users_profile(run).token_secret
    key = secret(name)
    if not key:
        raise ConfigurationError(f"{name} is not in the secrets backend: cannot act as a user")
    return key


def bearer(run: PhaseRun, user_id: int | str, ttl_seconds: float = 3600.0) -> dict[str, str]:
    import jwt

    key = signing_key(run)
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
    """The isolation probes' resource, owner and other member (``users.identity_sql``)."""
    sql = users_profile(run).identity_sql
    if not sql:
        raise ConfigurationError("target_profile.users.identity_sql: not declared: no resource to probe")
    row = _hook(run).get_first(sql)
    if not row or None in row:
        raise ConfigurationError("target_profile.users.identity_sql found no resource with an owner, another member "
                                 "of its tenant and a job")
    return Identity(*(int(value) for value in row))


def load_identities(run: PhaseRun, limit: int = 500) -> list[dict[str, int]]:
    """Who the load test's virtual users act as (``users.load_identities_sql``), one dict per row
    keyed by column name."""
    from contextlib import closing

    sql = users_profile(run).load_identities_sql
    if not sql:
        raise ConfigurationError("target_profile.users.load_identities_sql: not declared: nobody to act as")
    with closing(_hook(run).get_conn()) as conn, closing(conn.cursor()) as cursor:
        cursor.execute(sql, {"limit": limit})
        names = [getattr(column, "name", None) or column[0] for column in cursor.description]
        rows = cursor.fetchall()
    return [dict(zip(names, (int(value) for value in row), strict=True)) for row in rows]


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

