"""Phase 4 runs against the ledger, the evidence tree, Slack and Airflow's REST API; the beta it
reviews is replayed into the evidence tree first (tests/launch/phase4/replay.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness.scorecard import phase_completed


@pytest.fixture()
def review_env(ledger_db: str, evidence_base: Path, slack: Any, airflow_db: Path,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Phase 3 completed in the ledger; the target's connections exist but are never called."""
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", '{"conn_type": "http", "host": "127.0.0.1", "port": 9}')
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", '{"conn_type": "postgres", "host": "127.0.0.1", "port": 9}')
    phase_completed(ledger_db, "accubooks", "phase3_beta")
    return {"ledger": ledger_db, "evidence": evidence_base, "slack": slack}
