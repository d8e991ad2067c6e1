"""What the service checks share: where to send requests, who to send them as, secrets, scrapes.

- the entry URL: the target connection's ``extra.proxy.url`` when a proxy fronts the replicas
  (so checks see what users see), else the first replica;
- identities: a project, its owner and a non-owner of the same tenant, read from the target DB;
- secrets: resolved through Airflow's secrets backends (``Variable.get``: env
  ``AIRFLOW_VAR_<NAME>``, or AWS Secrets Manager / Vault when configured), never from the plan;
- bearer tokens: HS256 JWTs signed with the ``JWT_SECRET`` secret;
- service metrics: every replica's /metrics, summed, with rates over an interval (incl. CFUR);
- one disruptive measurement at a time (load test, chaos, metric windows) via an advisory lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from include.launch.core.errors import ConfigurationError
from include.launch.evidence.runtime import PhaseRun

MEASUREMENT_LOCK = 7_318_001  # pg advisory lock key shared by every disruptive measurement
SKIPPED_ROUTES = ("/metrics", "/health", "unmatched")


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

@dataclass
class Scrape:
    """Summed raw figures of some replicas at one moment."""

    taken_at: float
    requests: float = 0.0
    errors: float = 0.0
    crashes: float = 0.0
    latency: dict[float, float] = field(default_factory=dict)
    cache_hits: float = 0.0
    cache_misses: float = 0.0
    users_active: float = 0.0
    users_crashed: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


def scrape(urls: list[str], timeout: float = 5.0) -> Scrape:
    from prometheus_client.parser import text_string_to_metric_families

    result = Scrape(time.time())
    for url in urls:
        response = requests.get(f"{url.rstrip('/')}/metrics", timeout=timeout)
        response.raise_for_status()
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                name, labels, value = sample.name, sample.labels, sample.value
                route = labels.get("route", "")
                if name == "http_requests_total" and route not in SKIPPED_ROUTES and not route.startswith("/admin"):
                    result.requests += value
                    status = labels.get("status", "")
                    if status.startswith("5"):
                        result.errors += value
                elif name == "http_errors_total" and labels.get("code") == "500" and route not in SKIPPED_ROUTES:
                    result.crashes += value
                elif (name == "http_request_duration_seconds_bucket" and route not in SKIPPED_ROUTES
                      and not route.startswith("/admin")):
                    bound = float(labels["le"])
                    result.latency[bound] = result.latency.get(bound, 0.0) + value
                elif name == "cache_hit_total":
                    result.cache_hits += value
                elif name == "cache_miss_total":
                    result.cache_misses += value
                elif name == "cfur_users_active":
                    result.users_active += value
                elif name == "cfur_users_crashed":
                    result.users_crashed += value
                elif name == "app_version_info" and value:
                    result.versions[url] = labels.get("version", "")
    return result


def interval_values(before: Scrape, after: Scrape) -> dict[str, float | None]:
    """Rates between two scrapes, in the vocabulary's units (None = no traffic in the interval)."""
    from include.launch.plugins.metrics.histogram import quantile, subtract

    requests_delta = after.requests - before.requests
    errors_delta = after.errors - before.errors
    latency = subtract(after.latency, before.latency)
    p95, p99 = quantile(0.95, latency), quantile(0.99, latency)
    hits, misses = after.cache_hits - before.cache_hits, after.cache_misses - before.cache_misses
    cfur = None
    if after.users_active > 0:
        cfur = (after.users_active - after.users_crashed) / after.users_active * 100
    return {
        "error_rate_percent": errors_delta / requests_delta * 100 if requests_delta > 0 else None,
        "latency_p95_ms": p95 * 1000 if p95 is not None else None,
        "latency_p99_ms": p99 * 1000 if p99 is not None else None,
        "cfur_percent": cfur,
        "cache_hit_rate_percent": hits / (hits + misses) * 100 if hits + misses > 0 else None,
        "requests_in_interval": requests_delta,
        "users_active": after.users_active,
        "users_crashed": after.users_crashed,
    }


def measure(urls: list[str], window_seconds: float) -> dict[str, float | None]:
    """Two scrapes ``window_seconds`` apart; the interval's values."""
    first = scrape(urls)
    time.sleep(window_seconds)
    return interval_values(first, scrape(urls))
