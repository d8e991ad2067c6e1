"""Backups: the newest one is young enough and its restore was tested (status from the backup system)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import BackupFreshParams


def backup_fresh(run: PhaseRun, params: BackupFreshParams) -> CheckResult:
    store = EvidenceStore(run.spec.plan.evidence.base)
    if not store.exists(params.status_file):
        return CheckResult(Outcome.FAILED, f"no backup status at {params.status_file}: no evidence of a backup")
    status = json.loads(store.read_bytes(params.status_file))
    last = datetime.fromisoformat(status["last_backup_at"])
    age_hours = (datetime.now(UTC) - last).total_seconds() / 3600
    measured = {"last_backup_at": status["last_backup_at"], "age_hours": round(age_hours, 2),
                "restore_tested_at": status.get("restore_tested_at"), "restore_ok": status.get("restore_ok")}
    if age_hours > params.max_age_hours:
        return CheckResult(Outcome.FAILED, f"newest backup is {age_hours:.1f} h old (max {params.max_age_hours:g} h)",
                           measured)
    if params.restore_tested and not status.get("restore_ok"):
        return CheckResult(Outcome.FAILED, "the newest backup's restore was not tested successfully", measured)
    return CheckResult(Outcome.SUCCESSFUL, f"backup {age_hours:.1f} h old (max {params.max_age_hours:g} h)"
                       + (", restore tested" if params.restore_tested else ""), measured)
