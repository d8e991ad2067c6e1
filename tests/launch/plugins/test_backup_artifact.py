"""The backup gate looks at the backup: the artifact, its hash, its own header, the restore test on it.

Every claim of the status file is checked against a real pg_dump of a real database; each way the
status can lie is refused with the file named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from include.devservices.postgres import PostgresServer, airflow_connection_json
from include.launch.plugins.checks.backup import backup_and_test_restore, inspect_backup, status_path
from include.launch.plugins.checks.catalog import BackupFreshParams
from tests.harness.checks import registered_check

backup_fresh = registered_check("backup_fresh")  # through the registry: the mutant reaches it


def _database(pg_server: PostgresServer, prefix: str) -> str:
    url = pg_server.create_database(prefix)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE ledger_entries (id int PRIMARY KEY, amount numeric)")
        conn.execute("INSERT INTO ledger_entries VALUES (1, 10), (2, -10)")
    return url


@pytest.fixture()
def backed_up(pg_server: PostgresServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = _database(pg_server, "books")
    status = backup_and_test_restore(url, tmp_path / "backups", str(tmp_path / "evidence"), "accubooks")
    yield {"url": url, "status": status, "db": conninfo_to_dict(url)["dbname"], "base": tmp_path / "evidence",
           "artifact": Path(status["location"].removeprefix("file://"))}
    pg_server.drop_database(url)


def test_a_real_backup_is_judged_by_its_own_header(backed_up: dict[str, Any]) -> None:
    status = {**backed_up["status"], "last_backup_at": "2099-01-01T00:00:00+00:00"}  # a status that lies
    facts = inspect_backup(status, backed_up["db"], datetime.now(UTC))
    assert facts.problems == [] and facts.database == backed_up["db"] and facts.restore_tested
    assert facts.age_hours is not None and facts.age_hours < 1
    later = inspect_backup(status, backed_up["db"], datetime.now(UTC) + timedelta(hours=25))
    assert later.age_hours is not None and later.age_hours > 24  # the dump's age, whatever the status says


def test_a_missing_artifact_is_named(backed_up: dict[str, Any]) -> None:
    backed_up["artifact"].unlink()
    (problem,) = inspect_backup(backed_up["status"], backed_up["db"], datetime.now(UTC)).problems
    assert problem == f"backup artifact {backed_up['artifact']} does not exist"


def test_a_replaced_artifact_is_not_the_one_described(backed_up: dict[str, Any]) -> None:
    with backed_up["artifact"].open("ab") as handle:
        handle.write(b"\0")
    (problem,) = inspect_backup(backed_up["status"], backed_up["db"], datetime.now(UTC)).problems
    assert problem.startswith(f"backup artifact {backed_up['artifact'].name} is not the one the status describes")


def test_a_file_that_is_no_dump_is_refused(backed_up: dict[str, Any]) -> None:
    from include.launch.plugins.checks.backup import sha256_of

    backed_up["artifact"].write_bytes(b"not a dump")
    status = {**backed_up["status"], "sha256": sha256_of(backed_up["artifact"])}
    (problem,) = inspect_backup(status, backed_up["db"], datetime.now(UTC)).problems
    assert "is not a PostgreSQL dump" in problem


def test_another_databases_dump_does_not_count(backed_up: dict[str, Any], pg_server: PostgresServer,
                                               tmp_path: Path) -> None:
    other = _database(pg_server, "elsewhere")
    try:
        status = backup_and_test_restore(other, tmp_path / "other", str(tmp_path / "other_evidence"), "accubooks")
        (problem,) = inspect_backup(status, backed_up["db"], datetime.now(UTC)).problems
        assert f"is of database '{conninfo_to_dict(other)['dbname']}', not this launch's '{backed_up['db']}'" in problem
    finally:
        pg_server.drop_database(other)


def test_a_restore_test_of_another_artifact_is_no_restore_test(backed_up: dict[str, Any]) -> None:
    status = {**backed_up["status"], "restore_tested_sha256": "0" * 64}
    facts = inspect_backup(status, backed_up["db"], datetime.now(UTC))
    assert facts.problems == [] and not facts.restore_tested


def _run(base: Path, launch_id: str = "accubooks") -> Any:
    return SimpleNamespace(spec=SimpleNamespace(launch_id=launch_id, plan=SimpleNamespace(
        evidence=SimpleNamespace(base=str(base)), connections=SimpleNamespace(target_db="books_db"))))


def test_the_gate_passes_on_the_artifact_and_refuses_a_forged_restore(backed_up: dict[str, Any],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_DB", airflow_connection_json(backed_up["url"]))
    result = backup_fresh(_run(backed_up["base"]), BackupFreshParams())
    assert result.outcome.value == "successful" and "restore tested on this artifact" in result.summary
    path = backed_up["base"] / status_path("accubooks")
    path.write_text(json.dumps({**backed_up["status"], "restore_tested_sha256": "0" * 64}))
    refused = backup_fresh(_run(backed_up["base"]), BackupFreshParams())
    assert refused.outcome.value == "failed"
    assert refused.summary == "no successful restore test of this backup artifact (its SHA-256)"


def test_another_launchs_backup_status_is_not_this_ones(backed_up: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The status files are per launch: Launch B's backup never satisfies AccuBooks' gate."""
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_DB", airflow_connection_json(backed_up["url"]))
    result = backup_fresh(_run(backed_up["base"], "reconciliation"), BackupFreshParams())
    assert result.outcome.value == "failed"
    assert result.summary == ("no backup status at pre_launch/reconciliation/backup_status.json: no evidence of "
                              "a backup")


def test_users_writing_during_the_backup_do_not_fail_its_restore_test(pg_server: PostgresServer, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The counts the restore is compared with are read in the dump's own snapshot, so rows users add
    while pg_dump and pg_restore run are neither in the dump nor in its expected counts. The test
    writes a row between the dump and the restore, every time."""
    import subprocess

    from include.launch.plugins.checks import backup

    url = _database(pg_server, "busy")
    real_run = subprocess.run

    def run_after_a_user_wrote(command: list[str], **kwargs: Any) -> Any:
        if "pg_restore" in command[0] and "--list" not in command:
            with psycopg.connect(url) as conn:
                conn.execute("INSERT INTO ledger_entries VALUES (3, 1)")
        return real_run(command, **kwargs)

    monkeypatch.setattr(backup.subprocess, "run", run_after_a_user_wrote)
    status = backup_and_test_restore(url, tmp_path / "backups", str(tmp_path / "evidence"), "accubooks")
    with psycopg.connect(url) as conn:
        live = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()
    assert live == (3,) and status["row_counts"]["ledger_entries"] == 2  # the user's row came after the dump
    assert status["restore_ok"] and status["mismatches"] == {}
    pg_server.drop_database(url)
