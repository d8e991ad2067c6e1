"""The demo target's Launch B features on real processes: bearer tokens (401/403), rate limiting
(429), two versions (header, load-dependent fault), CFUR in /metrics, and graceful degradation
and recovery when Redis or the database is taken away for real."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from include.demo_target import chaos
from include.demo_target.config import read_env_file, write_env_file
from include.demo_target.service.auth import mint
from tests.launch.launch_b.environment import LaunchB, launch_b_target

# The rate-limit test sets its own limit on one replica (per user and route): a bucket of 2 that
# refills at 2 a second. It then sends 40 requests at once, of which the bucket admits at most
# 2 * (1 + spread), spread being the seconds between the first and the last one arriving: a
# refusal needs no more than a spread under 19 s, and the requests leave together and each
# gives up after 5 s to connect + 5 s to answer. No pace of sequential requests is assumed.
RATE_RPS = 2
BURST = 40


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


def counters(env: LaunchB, *names: str) -> dict[str, float]:
    """The stable replicas' counters ``names`` (``cache_hit_total``...), summed over the replicas."""
    totals = dict.fromkeys(names, 0.0)
    for replica in env.stable.replicas:
        for family in text_string_to_metric_families(requests.get(f"{replica.url}/metrics", timeout=5).text):
            for sample in family.samples:
                if sample.name in totals:
                    totals[sample.name] += sample.value
    return totals


@contextmanager
def rate_limit(env: LaunchB, replica: str, rps: float) -> Iterator[None]:
    """RATE_LIMIT_RPS=``rps`` on ``replica`` (its env file edited, then hot-reloaded); restored after."""
    env_file = Path(env.stable.env_file)
    shipped = env_file.read_text()
    admin = {"Authorization": f"Bearer {env.token}"}
    write_env_file(env_file, {**read_env_file(env_file), "RATE_LIMIT_RPS": f"{rps:g}"})
    try:
        requests.post(f"{replica}/admin/reload", headers=admin, timeout=10).raise_for_status()
        yield
    finally:
        env_file.write_text(shipped)
        requests.post(f"{replica}/admin/reload", headers=admin, timeout=10).raise_for_status()


def test_rate_limit_answers_429_per_user(env: LaunchB, me: dict[str, Any]) -> None:
    replica = env.stable.replicas[0].url  # one replica: one bucket per user and route
    url = f"{replica}/tenants/{me['tenant_id']}/reconciliation/jobs"
    other = next(i for i in env.identities() if i["user_id"] != me["user_id"])
    start = threading.Barrier(BURST, timeout=60)

    def call(_: int) -> int:
        start.wait()  # every request leaves at once
        return requests.get(url, headers=me["headers"], timeout=5).status_code

    with rate_limit(env, replica, RATE_RPS):
        time.sleep(1.1)  # every bucket refills to its full RATE_RPS (waiting longer changes nothing)
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            codes = list(pool.map(call, range(BURST)))
        # Another user's bucket is their own: still full while this user's is empty.
        other_token = {"Authorization": f"Bearer {mint(env.jwt_secret, other['user_id'])}"}
        other_code = requests.get(f"{replica}/tenants/{other['tenant_id']}/reconciliation/jobs",
                                  headers=other_token, timeout=5).status_code
    assert set(codes) <= {200, 429}, codes
    assert codes.count(200) >= RATE_RPS  # the full bucket: a burst is allowed
    assert 429 in codes  # then refused (see RATE_RPS)
    assert other_code == 200


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
    served = requests.get(url, headers=me["headers"], timeout=5)
    assert served.status_code == 200
    env.redis.stop()
    try:
        assert wait_for(lambda: requests.get(f"{env.stable.replicas[0].url}/health", timeout=5).json()["redis"]
                        ["status"] == "down")
        before = counters(env, "cache_hit_total", "cache_miss_total")
        answers = [requests.get(url, headers=me["headers"], timeout=5) for _ in range(5)]
        after = counters(env, "cache_hit_total", "cache_miss_total")
        assert [a.status_code for a in answers] == [200] * 5
        # Served from the database: the same results as with Redis, every read a miss (the user's
        # tenant and the results: two reads a request), not one from the cache.
        assert all(a.json() == served.json() for a in answers)
        assert after["cache_hit_total"] == before["cache_hit_total"]
        assert after["cache_miss_total"] == before["cache_miss_total"] + 2 * len(answers)
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


