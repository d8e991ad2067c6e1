"""The demo target's Launch B features on real processes: bearer tokens (401/403), rate limiting
(429), two versions (header, load-dependent fault), CFUR in /metrics, and graceful degradation
and recovery when Redis or the database is taken away for real."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import requests

from include.demo_target import chaos
from include.demo_target.service.auth import mint
from tests.launch.launch_b.environment import LaunchB, launch_b_target


@pytest.fixture(scope="module")
def env(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchB]:
    with launch_b_target(pg_server, tmp_path_factory.mktemp("launch_b"), tenants=10) as running:
        yield running


@pytest.fixture(scope="module")
def me(env: LaunchB) -> dict[str, Any]:
    ident = env.identities()[0]
    return {**ident, "headers": {"Authorization": f"Bearer {mint(env.jwt_secret, ident['user_id'])}"}}


def jobs_url(env: LaunchB, tenant: int) -> str:
    return f"{env.proxy.url}/tenants/{tenant}/reconciliation/jobs"


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_mutations_need_a_token_and_the_project_permission(env: LaunchB, me: dict[str, Any]) -> None:
    url = jobs_url(env, me["tenant_id"])
    with psycopg.connect(env.db_url) as conn:
        project, owner = conn.execute("SELECT id, owner_id FROM projects WHERE tenant_id = %s",
                                      (me["tenant_id"],)).fetchone()
        other = conn.execute("SELECT id FROM users WHERE tenant_id = %s AND id <> %s LIMIT 1",
                             (me["tenant_id"], owner)).fetchone()[0]
    assert requests.post(url, json={"project_id": project}, timeout=5).status_code == 401
    forged = mint("not-the-secret-of-this-service", owner)
    assert requests.post(url, json={"project_id": project}, timeout=5,
                         headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    foreign = {"Authorization": f"Bearer {mint(env.jwt_secret, other)}"}
    assert requests.post(url, json={"project_id": project}, headers=foreign, timeout=5).status_code == 403
    owner_headers = {"Authorization": f"Bearer {mint(env.jwt_secret, owner)}"}
    created = requests.post(url, json={"project_id": project}, headers=owner_headers, timeout=5)
    assert created.status_code == 201 and created.json()["status"] == "queued"


def test_rate_limit_answers_429_per_user(env: LaunchB, me: dict[str, Any]) -> None:
    with requests.Session() as session:
        codes = [session.get(jobs_url(env, me["tenant_id"]), headers=me["headers"], timeout=5).status_code
                 for _ in range(300)]
    assert 200 in codes and 429 in codes
    assert codes.index(429) > 10  # a burst is allowed first


def test_version_header_and_cfur_in_metrics(env: LaunchB) -> None:
    response = requests.get(f"{env.proxy.url}/health", timeout=5)
    assert response.headers["X-App-Version"] == "1.0.0"
    text = requests.get(f"{env.stable.replicas[0].url}/metrics", timeout=5).text
    for name in ("crash_free_users_percent", "cfur_users_active", "cfur_users_crashed", "redis_used_memory_bytes",
                 "cache_hit_total", "app_version_info"):
        assert name in text


def test_redis_away_degrades_to_the_database_and_recovers(env: LaunchB, me: dict[str, Any]) -> None:
    url = f"{jobs_url(env, me['tenant_id'])}/{me['job_id']}/results"
    time.sleep(1.1)  # the previous test emptied this user's rate-limit bucket
    assert requests.get(url, headers=me["headers"], timeout=5).status_code == 200
    env.redis.stop()
    try:
        assert wait_for(lambda: requests.get(f"{env.stable.replicas[0].url}/health", timeout=5).json()["redis"]
                        ["status"] == "down")
        answers = [requests.get(url, headers=me["headers"], timeout=5) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5  # served from the database
        assert max(a.elapsed.total_seconds() for a in answers) < 2
    finally:
        env.redis.start()
    assert wait_for(lambda: requests.get(f"{env.stable.replicas[0].url}/health", timeout=5).json()["status"] == "ok")


def test_database_away_serves_cached_reads_and_recovers(env: LaunchB, me: dict[str, Any]) -> None:
    cached = f"{jobs_url(env, me['tenant_id'])}/{me['job_id']}/results"
    time.sleep(1.1)
    assert requests.get(cached, headers=me["headers"], timeout=5).status_code == 200  # now in Redis
    name = env.db_url.split("dbname=")[1].split()[0]
    chaos.block(env.admin_url, name)
    try:
        assert wait_for(lambda: requests.get(f"{env.stable.replicas[0].url}/health", timeout=5).json()["database"]
                        ["status"] == "down")
        assert requests.get(cached, headers=me["headers"], timeout=5).status_code == 200  # from the cache
        uncached = requests.get(f"{env.proxy.url}/tenants/{me['tenant_id']}/reconciliation/jobs?project_id=999999",
                                headers=me["headers"], timeout=10)
        assert uncached.status_code == 503 and "database" in uncached.json()["detail"]
    finally:
        chaos.unblock(env.admin_url, name)
    assert wait_for(lambda: requests.get(f"{env.stable.replicas[0].url}/health", timeout=5).json()["status"] == "ok")
    assert wait_for(lambda: requests.get(f"{env.proxy.url}/tenants/{me['tenant_id']}/reconciliation/jobs?"
                                         "project_id=999998", headers=me["headers"], timeout=5).status_code == 200)


