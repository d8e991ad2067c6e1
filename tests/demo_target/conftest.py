"""Fixtures for the demo target: seeded databases and real replica clusters on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from include.demo_target import supervisor
from include.demo_target.config import write_env_file
from include.demo_target.generator import DEFECTS, GenerationResult, generate

SMALL_POOL = {
    "DB_POOL_MAX": "6",
    "DB_POOL_MIN": "2",
    "DB_POOL_IDLE_TIMEOUT": "30000",
    "DB_POOL_CONNECTION_TIMEOUT": "1000",
}


@pytest.fixture(scope="module")
def seeded(module_db: str) -> tuple[str, GenerationResult]:
    """A module database with 40 tenants and every defect planted once."""
    return module_db, generate(module_db, tenants=40, seed=7, defects=list(DEFECTS))


ClusterFactory = Callable[..., supervisor.ClusterState]


def _cluster_factory(db_url: str, base: Path) -> Iterator[ClusterFactory]:
    started: list[supervisor.ClusterState] = []

    def start(replicas: int = 2, faults: bool = True, pool: dict[str, str] | None = None) -> supervisor.ClusterState:
        state_dir = base / f"cluster{len(started)}"
        env_file = write_env_file(state_dir / "service.env", {**SMALL_POOL, **(pool or {})})
        state = supervisor.start_replicas(state_dir, env_file, replicas, db_url=db_url, faults_enabled=faults)
        started.append(state)
        return state

    yield start
    for state in started:
        supervisor.stop_all(state)


@pytest.fixture(scope="module")
def module_cluster(
    seeded: tuple[str, GenerationResult], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterFactory]:
    """Start clusters against the seeded module database; all are stopped at module end."""
    yield from _cluster_factory(seeded[0], tmp_path_factory.mktemp("cluster"))


@pytest.fixture()
def cluster(seeded: tuple[str, GenerationResult], tmp_path: Path) -> Iterator[ClusterFactory]:
    """Like module_cluster, stopped at test end (for tests that restart or crash replicas)."""
    yield from _cluster_factory(seeded[0], tmp_path)
