"""Launch B against real processes: PostgreSQL, Redis, two replica groups, nginx; secrets in the
secrets backend (AIRFLOW_VAR_*), the target described by its connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include.launch.evidence.ledger import Event, Ledger
from tests.conftest import postgres_connection_json
from tests.launch.launch_b.environment import LaunchB, launch_b_target


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.fixture()
def target(pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LaunchB]:
    with launch_b_target(pg_server, tmp_path / "recon") as env:
        monkeypatch.setenv("AIRFLOW_CONN_RECONCILIATION_API", json.dumps(env.connection()))
        monkeypatch.setenv("AIRFLOW_CONN_RECONCILIATION_DB", postgres_connection_json(env.db_url))
        for name, value in env.secrets().items():
            monkeypatch.setenv(f"AIRFLOW_VAR_{name}", value)
        yield env


@pytest.fixture()
def launch_env(target: LaunchB, ledger_db: str, evidence_base: Path, slack: Any, alertmanager: Any) -> dict[str, Any]:
    """The stand-in running with its Alertmanager (nothing firing): the canary's pre-checks measure."""
    return {"target": target, "ledger": ledger_db, "evidence": evidence_base, "slack": slack}


def go_no_go_completed(ledger_db: str) -> None:
    Ledger(ledger_db).append(Event(launch_id="reconciliation", phase_id="go_no_go", event="phase_completed",
                                   outcome="successful"))
