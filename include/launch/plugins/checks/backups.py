"""Backups: the newest one is young enough and its restore was tested, by the artifact itself (the
status file only says where to look)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import BackupFreshParams


def target_database(run: PhaseRun) -> str:
    from psycopg.conninfo import conninfo_to_dict

    from include.launch.core.connections import postgres_conninfo

    return str(conninfo_to_dict(postgres_conninfo(run.spec.plan.connections.target_db)).get("dbname") or "")


def backup_fresh(run: PhaseRun, params: BackupFreshParams) -> CheckResult:
    from include.launch.plugins.checks.backup import inspect_backup, status_path

    path = status_path(run.spec.launch_id, params.status_file)
    store = EvidenceStore(run.spec.plan.evidence.base)
    if not store.exists(path):
        return CheckResult(Outcome.FAILED, f"no backup status at {path}: no evidence of a backup")
    status = json.loads(store.read_bytes(path))
    facts = inspect_backup(status, target_database(run), datetime.now(UTC))
    measured = {"status_file": path, **facts.as_dict()}
    if facts.problems:
        return CheckResult(Outcome.FAILED, "; ".join(facts.problems), measured)
    assert facts.age_hours is not None
    if facts.age_hours > params.max_age_hours:
        return CheckResult(Outcome.FAILED, f"newest backup is {facts.age_hours:.1f} h old by its own header (max "
                                           f"{params.max_age_hours:g} h)", measured)
    if params.restore_tested and not facts.restore_tested:
        return CheckResult(Outcome.FAILED, "no successful restore test of this backup artifact (its SHA-256)",
                           measured)
    return CheckResult(Outcome.SUCCESSFUL, f"backup of {facts.database} {facts.age_hours:.1f} h old (max "
                                           f"{params.max_age_hours:g} h)"
                       + (", restore tested on this artifact" if params.restore_tested else ""), measured)
