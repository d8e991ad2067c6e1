"""The docker-compose file, parsed and validated by a compose implementation (issue 12).

Debian's ``docker-compose`` (1.29, Python) validates against the compose schema and resolves
anchors, merges and ``${...}`` interpolation without a Docker engine: ``config`` is exactly what
``up`` would run. The tests then read the resolved file and check the topology it describes.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
AIRFLOW_COMPONENTS = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                      "airflow-triggerer", "airflow-worker-1", "airflow-worker-2", "flower"}


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose not installed: scripts/ensure-apt.sh docker-compose (make test does it)")
    return subprocess.run([binary, "--env-file", str(env_file), "-f", str(COMPOSE), "config"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def _command(service: dict[str, Any]) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def _volumes(service: dict[str, Any]) -> set[tuple[str, str]]:
    """(source, target) of each mount; short ("src:dst:rw") or long syntax, as the parser prints it."""
    mounts = set()
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts.add((source, target))
    return mounts


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = compose_config(ROOT / ".env.example")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document


def test_the_official_topology_is_there(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert AIRFLOW_COMPONENTS | {"postgres", "redis", "demo-target-0", "demo-target-1", "prometheus",
                                 "alertmanager", "db-host-exporter"} <= set(services)
    assert services["flower"]["profiles"] == ["flower"]  # optional, as in the official file
    for name in AIRFLOW_COMPONENTS:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:"), name  # password-protected broker
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert "db-host-exporter:9100" in env["AIRFLOW_CONN_ACCUBOOKS_DB_HOST"], name  # Phase 1's database CPU
    for name in AIRFLOW_COMPONENTS - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_two_workers_with_their_own_hostnames_and_queues(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    one, two = services["airflow-worker-1"], services["airflow-worker-2"]
    assert (one["hostname"], two["hostname"]) == ("celery-worker-1", "celery-worker-2")
    assert "--queues default " in _command(one) and "--queues checks " in _command(two)


def test_nothing_assumes_one_machine(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    bases = {services[name]["environment"]["LAUNCH_EVIDENCE_BASE"] for name in AIRFLOW_COMPONENTS}
    assert len(bases) == 1  # every component sees the same evidence base ...
    for name in AIRFLOW_COMPONENTS:
        # ... on a named volume, not a folder of one host
        assert ("launch-shared", "/opt/airflow/shared") in _volumes(services[name]), name
        env = services[name]["environment"]
        assert "@postgres:5432/launch" in env["AIRFLOW_CONN_LAUNCH_DB"]  # ledger and locks in PostgreSQL


def test_secrets_come_from_the_env_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "REDIS_PASSWORD" in result.stderr
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be ignored by git"


def test_dockerfile_and_helm_values() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM apache/airflow:3.3.2" in dockerfile
    assert "requirements.txt" in dockerfile
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    assert values["executor"] == "CeleryExecutor"
    assert values["airflowVersion"] == "3.3.2"
    assert values["workers"]["replicas"] >= 2
    names = {item["name"] for item in values["env"]}
    assert "LAUNCH_EVIDENCE_BASE" in names


def test_every_deployment_uses_the_launch_roles(resolved: dict[str, Any]) -> None:
    """FAB with the launch roles (include/access) in compose and Helm; roles set up right after the migration."""
    from include.access import AUTH_MANAGER

    services = resolved["services"]
    for name in AIRFLOW_COMPONENTS:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == AUTH_MANAGER, name
        assert not [key for key in env if "SIMPLE_AUTH_MANAGER" in key], name
    init = _command(services["airflow-init"])
    assert init.index("airflow db migrate") < init.index("python -m include.access.sync --demo-users")
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    assert values["config"]["core"]["auth_manager"] == AUTH_MANAGER
    migrate = " ".join(values["migrateDatabaseJob"]["args"])
    assert migrate.index("airflow db migrate") < migrate.index("python -m include.access.sync")
