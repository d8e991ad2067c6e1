"""Phase 3 and the beta daily metrics against a real demo target (two replicas, real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgres_connection_json
from tests.harness.monitoring import accubooks_scraped
from tests.harness.scorecard import phase_completed
from tests.harness.target import RunningTarget, running_target
from tests.launch.phase1.conftest import write_backup_status

COHORT_TENANTS = list(range(1, 13))  # 12 tenants, 2 users each


@pytest.fixture()
def target(pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningTarget]:
    db_url = pg_server.create_database("target")
    with running_target(db_url, tmp_path / "target") as running:
        monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", running.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", postgres_connection_json(db_url))
        yield running
    pg_server.drop_database(db_url)


@pytest.fixture()
def phase2_monitoring(target: RunningTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """What Phase 2 leaves behind: Prometheus scraping every replica as job ``accubooks`` (the first
    watch reads uptime from it) and Alertmanager with nothing firing."""
    with accubooks_scraped(tmp_path / "monitoring", target.urls, monkeypatch.setenv) as stack:
        yield stack


@pytest.fixture()
def beta_env(target: RunningTarget, ledger_db: str, evidence_base: Path, slack: Any,
             airflow_db: Path, alertmanager: Any) -> dict[str, Any]:
    """Phase 2 completed (its Alertmanager running, nothing firing), a fresh real backup, the
    target running; no Prometheus connection (the daily DAG reads the target)."""
    phase_completed(ledger_db, "accubooks", "phase2_monitoring")
    write_backup_status(evidence_base, target.db_url)
    return {"target": target, "ledger": ledger_db, "evidence": evidence_base, "slack": slack}
