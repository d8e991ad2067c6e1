"""Shared fixtures over real services: PostgreSQL, in-process Airflow, a local Slack receiver.

Airflow reads its settings when first imported, so the environment is set here, at import time,
before any test module imports airflow.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.devservices.postgres import PostgresServer, airflow_connection_json, start_server
from tests.harness.airflow import ApprovalClient, configure_environment, migrate_metadata_db

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="launch-airflow-"))
configure_environment(_AIRFLOW_HOME)


@pytest.fixture(scope="session")
def pg_server() -> PostgresServer:
    """The PostgreSQL server for the whole session (env-named, else embedded)."""
    return start_server()


@pytest.fixture(scope="session", autouse=True)
def db_host_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Debian's node exporter as the database host's: Phase 1 reads the database CPU from it (its
    plan's ``accubooks_db_host`` connection), in-process and in every Airflow the tests start."""
    from include.devservices.node_exporter import connection_json, running_node_exporter

    with running_node_exporter(tmp_path_factory.mktemp("node_exporter")) as service:
        os.environ["AIRFLOW_CONN_ACCUBOOKS_DB_HOST"] = connection_json(service)
        try:
            yield service
        finally:
            os.environ.pop("AIRFLOW_CONN_ACCUBOOKS_DB_HOST", None)


@pytest.fixture(scope="module")
def module_db(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database shared by the tests of one module; its URL."""
    url = pg_server.create_database("m")
    yield url
    pg_server.drop_database(url)


@pytest.fixture()
def fresh_db(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database for one test; its URL."""
    url = pg_server.create_database("f")
    yield url
    pg_server.drop_database(url)


postgres_connection_json = airflow_connection_json  # the name the tests use


@pytest.fixture()
def ledger_db(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh ledger database behind the ``launch_db`` connection; its URL."""
    from include.launch.evidence.ledger import Ledger

    monkeypatch.setenv("AIRFLOW_CONN_LAUNCH_DB", postgres_connection_json(fresh_db))
    Ledger(fresh_db).ensure_schema()
    return fresh_db


@pytest.fixture()
def evidence_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private evidence base for one test."""
    base = tmp_path / "evidence"
    monkeypatch.setenv("LAUNCH_EVIDENCE_BASE", str(base))
    return base


@pytest.fixture()
def alertmanager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A real Alertmanager with nothing firing behind the plans' ``alertmanager`` connection: the
    firing-alerts pre-check measures it (without one that check fails, as the plans require)."""
    import json

    from include.devservices.prometheus import start_alertmanager, started

    service = started(start_alertmanager, tmp_path / "alertmanager")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER", json.dumps({"conn_type": "http", "host": service.url}))
        yield service
    finally:
        service.stop()


@pytest.fixture()
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A local Slack webhook receiver behind the ``slack_launch`` connection."""
    from include.devservices.slack_receiver import SlackReceiver

    receiver = SlackReceiver(hang_seconds=5).start()
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_LAUNCH", receiver.connection_json())
    yield receiver
    receiver.stop()


@pytest.fixture()
def pager(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A local pager receiver behind the ``launch_pager`` connection (routing key in the password)."""
    from include.devservices.slack_receiver import SlackReceiver

    receiver = SlackReceiver().start()
    monkeypatch.setenv("AIRFLOW_CONN_LAUNCH_PAGER", json.dumps({"conn_type": "http", "host": receiver.url,
                                                                "password": "routing-key-1234"}))
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite) shared by the session; AIRFLOW_HOME's path."""
    migrate_metadata_db()
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def approvals(airflow_db: Path) -> ApprovalClient:
    """Airflow's REST API, acting as any user of tests.harness.airflow.TEST_USERS."""
    return ApprovalClient()


# The longest modules of the parallel pass, longest first (seconds on 2026-12-04, four workers):
# pytest-xdist hands out whole modules in collection order, so starting these first keeps one of
# them from being the last thing running while the other workers sit idle (longest-first: 471 s
# of work per worker instead of 503 in collection order). Order only; no outcome depends on it.
LONGEST_FIRST = (
    "tests/launch/phase1/test_phase1_failures.py",  # 344
    "tests/reliability/test_faults_phase1.py",  # 158
    "tests/launch/phase2/test_phase2_integration.py",  # 109
    "tests/launch/launch_b/test_canary.py",  # 86
    "tests/launch/phase1/test_machine_triggers.py",  # 81
    "tests/launch/engine/test_incident_lifecycle.py",  # 80
    "tests/browser/test_launch_board_browser.py",  # 71
    "tests/launch/phase4/test_phase4_review.py",  # 68
    "tests/launch/phase3/test_phase3_beta.py",  # 67
    "tests/launch/engine/test_shipped_triggers_fire.py",  # 65
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: the rest keep their order
