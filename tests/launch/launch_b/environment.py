"""Launch B's target for the tests: the reconciliation service on a real PostgreSQL, a real Redis,
a stable and a canary group of replicas (two each) behind a real nginx, and the connection that
describes it all to the pipeline (proxy, groups, chaos commands, known-good releases)."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg.conninfo import conninfo_to_dict

from include.demo_target import supervisor
from include.demo_target.config import DEFAULTS, write_env_file
from include.demo_target.generator import generate
from include.demo_target.schema import migrate
from include.devservices.nginx import Nginx, weighted_proxy
from include.devservices.redis_local import LocalRedis, local_redis

STABLE = "1.0.0"
KNOWN_GOOD = ["0.9.0", "0.9.5", STABLE]


@dataclass
class LaunchB:
    db_url: str
    admin_url: str
    redis: LocalRedis
    proxy: Nginx
    stable: supervisor.ClusterState
    canary: supervisor.ClusterState
    jwt_secret: str = field(repr=False)
    token: str = field(repr=False)
    releases_file: Path

    @property
    def replicas(self) -> list[str]:
        return [r.url for r in self.stable.replicas] + [r.url for r in self.canary.replicas]

    def restart_command(self, state: supervisor.ClusterState) -> list[str]:
        return [sys.executable, "-m", "include.demo_target", "restart", "--replica", "{index}",
                "--state-dir", state.state_dir, "--drain-seconds", "0.2"]

    def connection(self) -> dict[str, Any]:
        python = sys.executable
        name = conninfo_to_dict(self.db_url)["dbname"]
        return {"conn_type": "http", "password": self.token, "extra": {
            "replicas": self.replicas, "env_file": self.stable.env_file,
            "restart_command": self.restart_command(self.stable), "timeout": 5,
            "proxy": {"url": self.proxy.url, "upstream_file": str(self.proxy.upstream_file),
                      "reload_command": self.proxy.reload_command()},
            "groups": {
                "stable": {"replicas": [r.url for r in self.stable.replicas], "env_file": self.stable.env_file,
                           "restart_command": self.restart_command(self.stable)},
                "canary": {"replicas": [r.url for r in self.canary.replicas], "env_file": self.canary.env_file,
                           "restart_command": self.restart_command(self.canary)},
            },
            "releases_file": str(self.releases_file),
            "chaos": {
                "redis_down": {"inject": [python, "-m", "include.devservices.redis_local", "stop", "--dir",
                                          str(self.redis.folder)],
                               "restore": [python, "-m", "include.devservices.redis_local", "start", "--dir",
                                           str(self.redis.folder)]},
                "database_down": {"inject": [python, "-m", "include.demo_target", "chaos-db", "block",
                                             "--admin-db", self.admin_url, "--name", name],
                                  "restore": [python, "-m", "include.demo_target", "chaos-db", "unblock",
                                              "--admin-db", self.admin_url, "--name", name]},
            },
        }}

    def secrets(self) -> dict[str, str]:
        """What the secrets backend holds (tests: AIRFLOW_VAR_*)."""
        return {"JWT_SECRET": self.jwt_secret, "DATABASE_URL": self.db_url, "REDIS_URL": self.redis.url}

    def identities(self) -> list[dict[str, int]]:
        with psycopg.connect(self.db_url) as conn:
            rows = conn.execute("SELECT u.id, u.tenant_id, min(j.id) FROM users u JOIN reconciliation_jobs j "
                                "ON j.tenant_id = u.tenant_id GROUP BY u.id, u.tenant_id ORDER BY u.id").fetchall()
        return [{"user_id": r[0], "tenant_id": r[1], "job_id": r[2]} for r in rows]

    def set_faults(self, state: supervisor.ClusterState, **faults: object) -> None:
        for replica in state.replicas:
            requests.post(f"{replica.url}/admin/faults", json=faults, timeout=5,
                          headers={"Authorization": f"Bearer {self.token}"}).raise_for_status()

    def versions_through_proxy(self, probes: int = 60) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _ in range(probes):
            version = requests.get(f"{self.proxy.url}/health", timeout=5,
                                   headers={"Connection": "close"}).headers.get("X-App-Version", "?")
            counts[version] = counts.get(version, 0) + 1
        return counts


def service_env(redis_url: str, jwt_secret: str, version: str) -> dict[str, str]:
    return {**DEFAULTS, "DB_POOL_MAX": "20", "DB_POOL_MIN": "2", "APP_VERSION": version, "REDIS_URL": redis_url,
            "JWT_SECRET": jwt_secret, "SENTRY_DSN": "https://key@sentry.example.invalid/378",
            "RATE_LIMIT_RPS": "10", "CACHE_TTL_SECONDS": "30", "CFUR_WINDOW_SECONDS": "10",
            "WORKER_INTERVAL_SECONDS": "0"}


def _stop_cluster(state_dir: Path) -> None:
    supervisor.stop_all(supervisor.ClusterState.load(state_dir))


@contextmanager
def launch_b_target(pg_server: Any, base: Path, tenants: int = 30) -> Iterator[LaunchB]:
    db_url = pg_server.create_database("recon")
    migrate(db_url)
    generate(db_url, tenants, seed=11)
    jwt_secret = secrets.token_urlsafe(32)
    token = secrets.token_urlsafe(24)
    with ExitStack() as stack:
        redis = stack.enter_context(local_redis(base / "redis"))
        clusters = []
        for name in ("stable", "canary"):
            state_dir = base / name
            state_dir.mkdir(parents=True)
            (state_dir / supervisor.TOKEN_FILE).write_text(token)
            env_file = write_env_file(state_dir / "service.env", service_env(redis.url, jwt_secret, STABLE))
            state = supervisor.start_replicas(state_dir, env_file, 2, db_url=db_url, faults_enabled=True)
            stack.callback(_stop_cluster, state_dir)
            clusters.append(state)
        stable, canary = clusters
        servers = [(f"127.0.0.1:{r.port}", 1) for r in stable.replicas]
        proxy = stack.enter_context(weighted_proxy(base / "nginx", servers))
        releases = base / "releases.json"
        releases.write_text(json.dumps({"known_good": KNOWN_GOOD}))
        try:
            yield LaunchB(db_url, pg_server.admin_url, redis, proxy, stable, canary, jwt_secret, token, releases)
        finally:
            stack.close()
            pg_server.drop_database(db_url)
