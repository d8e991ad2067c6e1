"""The service over real replicas: pool from the env file, reload, metrics, admin auth, faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from include.demo_target import supervisor
from include.demo_target.config import write_env_file
from tests.demo_target.conftest import SMALL_POOL, ClusterFactory

REQUIRED_METRICS = (
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_errors_total",
    "db_query_duration_seconds_bucket",
    "db_pool_in_use_connections",
    "db_pool_max_connections",
    "db_pool_min_connections",
    "db_pool_wait_seconds_bucket",
    "cache_hit_total",
    "cache_miss_total",
    "jobs_running_total",
    "jobs_failed_total",
    "job_duration_seconds_bucket",
    "auth_failures_total",
    "rate_limit_trigger_total",
    "forecast_queue_depth",
    "forecast_queue_wait_seconds_bucket",
)
ADMIN_CALLS = [("POST", "/admin/reload"), ("POST", "/admin/faults"), ("DELETE", "/admin/faults")]


@pytest.fixture(scope="module")
def state(module_cluster: ClusterFactory) -> Iterator[supervisor.ClusterState]:
    yield module_cluster(replicas=2, faults=True)


def _auth(state: supervisor.ClusterState) -> dict[str, str]:
    return {"Authorization": f"Bearer {supervisor.admin_token(state.state_dir)}"}


@pytest.mark.parametrize("index", [0, 1], ids=["replica0", "replica1"])
def test_health_reports_the_pool_from_the_env_file(state: supervisor.ClusterState, index: int) -> None:
    body = requests.get(f"{state.replicas[index].url}/health", timeout=5).json()
    assert body["replica"] == index and body["status"] == "ok" and body["database"]["status"] == "up"
    pool = body["pool"]
    assert (pool["max"], pool["min"], pool["idle_timeout_ms"], pool["connection_timeout_ms"]) == (
        6,
        2,
        30000,
        1000,
    )
    assert {"size", "in_use", "idle", "waiting"} <= pool.keys()
    assert body["faults"]["enabled"] is True and body["faults"]["any_active"] is False


@pytest.mark.parametrize("route", ["invoices", "trial-balance", "forecast"], ids=str)
def test_tenant_endpoints_answer_from_the_database(state: supervisor.ClusterState, route: str) -> None:
    url = state.replicas[0].url
    response = requests.get(f"{url}/tenants/3/{route}", timeout=5)
    assert response.status_code == 200 and response.json()["tenant_id"] == 3
    if route == "trial-balance":
        assert response.json()["balanced"] is True
    assert requests.get(f"{url}/tenants/999999/{route}", timeout=5).status_code == 404


@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS, ids=[f"{m} {p}" for m, p in ADMIN_CALLS])
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "wrong-scheme"], ids=["missing", "wrong", "scheme"])
def test_admin_endpoints_refuse_missing_or_wrong_token(
    state: supervisor.ClusterState, method: str, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.request(method, f"{state.replicas[0].url}{path}", headers=headers, json={}, timeout=5)
    assert response.status_code == 401


def test_reload_changes_the_pool_and_health_shows_it(state: supervisor.ClusterState) -> None:
    new = {
        **SMALL_POOL,
        "DB_POOL_MAX": "9",
        "DB_POOL_MIN": "3",
        "DB_POOL_IDLE_TIMEOUT": "20000",
        "APP_VERSION": "1.0.1",
    }
    write_env_file(state.env_file, new)
    try:
        for replica in state.replicas:
            response = requests.post(f"{replica.url}/admin/reload", headers=_auth(state), timeout=10)
            assert response.status_code == 200, response.text
            body = requests.get(f"{replica.url}/health", timeout=5).json()
            assert (body["pool"]["max"], body["pool"]["min"], body["pool"]["idle_timeout_ms"]) == (
                9,
                3,
                20000,
            )
            assert body["version"] == "1.0.1"
    finally:
        write_env_file(state.env_file, SMALL_POOL)
        for replica in state.replicas:
            requests.post(f"{replica.url}/admin/reload", headers=_auth(state), timeout=10)


def test_faults_are_visible_and_take_effect(state: supervisor.ClusterState) -> None:
    url = state.replicas[1].url
    try:
        assert (
            requests.post(f"{url}/admin/faults", headers=_auth(state), json={"db_down": True}, timeout=5).status_code
            == 200
        )
        health = requests.get(f"{url}/health", timeout=5)
        assert health.json()["database"]["status"] == "down" and health.json()["faults"]["db_down"] is True
        assert requests.get(f"{url}/tenants/3/invoices", timeout=5).status_code == 503
        requests.post(f"{url}/admin/faults", headers=_auth(state), json={"error_rate": 1.0}, timeout=5)
        assert requests.get(f"{url}/tenants/3/invoices", timeout=5).status_code == 500
        requests.post(f"{url}/admin/faults", headers=_auth(state), json={"pool_saturation": 6}, timeout=5)
        assert requests.get(f"{url}/health", timeout=5).json()["faults"]["held_connections"] == 6
        assert requests.get(f"{url}/tenants/3/invoices", timeout=10).status_code == 503
    finally:
        requests.delete(f"{url}/admin/faults", headers=_auth(state), timeout=5)
    assert requests.get(f"{url}/health", timeout=5).json()["faults"]["any_active"] is False
    assert requests.get(f"{url}/tenants/3/invoices", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def scraped(state: supervisor.ClusterState) -> set[str]:
    """Drive every code path once on replica 0, then parse its /metrics; the sample and family names."""
    url = state.replicas[0].url
    for route in ("invoices", "trial-balance", "forecast", "forecast"):
        requests.get(f"{url}/tenants/4/{route}", timeout=5)
    requests.post(f"{url}/tenants/4/forecast/refresh", timeout=5)
    requests.post(f"{url}/admin/reload", timeout=5)  # an auth failure
    requests.post(f"{url}/admin/faults", headers=_auth(state), json={"error_rate": 1.0}, timeout=5)
    requests.get(f"{url}/tenants/4/invoices", timeout=5)  # a 5xx
    requests.delete(f"{url}/admin/faults", headers=_auth(state), timeout=5)
    text = requests.get(f"{url}/metrics", timeout=5).text
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


@pytest.mark.parametrize("name", REQUIRED_METRICS, ids=REQUIRED_METRICS)
def test_metrics_parse_and_carry_every_required_name(scraped: set[str], name: str) -> None:
    assert name in scraped
