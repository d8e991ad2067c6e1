"""Phase 1 against a real demo target: two replicas on a real PostgreSQL, connections, live traffic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from include.launch.evidence.store import EvidenceStore
from tests.conftest import postgres_connection_json
from tests.harness.target import LiveTraffic, RunningTarget, running_target

ROLLBACK_PLAN = ("# Rollback plan: Phase 1\n\nRevert DB_POOL_* in the env file, rolling restart, verify /health, "
                 "watch 15 min.\n")


def write_backup_status(base: Path, db_url: str, launch_id: str = "accubooks") -> None:
    """A real backup of the target database and its restore test (the gates check the artifact)."""
    from include.launch.plugins.checks.backup import backup_and_test_restore

    backup_and_test_restore(db_url, base.parent / "backups", str(base), launch_id)


@pytest.fixture()
def target(pg_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningTarget]:
    db_url = pg_server.create_database("target")  # type: ignore[attr-defined]
    with running_target(db_url, tmp_path / "target") as running:
        monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", running.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", postgres_connection_json(db_url))
        yield running
    pg_server.drop_database(db_url)  # type: ignore[attr-defined]


@pytest.fixture()
def launch_env(target: RunningTarget, ledger_db: str, evidence_base: Path,
               slack: object) -> Iterator[dict[str, object]]:
    """Everything Phase 1 needs, with live traffic flowing for the whole test."""
    write_backup_status(evidence_base, target.db_url)
    EvidenceStore(str(evidence_base)).write_text("pre_launch/rollback_plan.md", ROLLBACK_PLAN)
    with LiveTraffic(target.urls) as traffic:
        yield {"target": target, "ledger": ledger_db, "evidence": evidence_base, "slack": slack, "traffic": traffic}
