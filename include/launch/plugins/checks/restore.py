"""Backups are taken at the planned interval and a real restore finishes within the RTO.

Reads the backup system's last status (the newest backup must be younger than the interval),
then runs a restore drill: pg_dump of the target database, restore into a scratch database,
row counts compared table by table, timed against the RTO (include.launch.plugins.checks.backup does the work).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import PROJECT_ROOT, EvidenceStore
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import RestoreDrillParams


def restore_drill(run: PhaseRun, params: RestoreDrillParams) -> CheckResult:
    from include.launch.core.connections import postgres_conninfo
    from include.launch.plugins.checks.backup import backup_and_test_restore, inspect_backup, status_path
    from include.launch.plugins.checks.backups import target_database

    store = EvidenceStore(run.spec.plan.evidence.base)
    path = status_path(run.spec.launch_id, params.status_file)
    previous = json.loads(store.read_bytes(path)) if store.exists(path) else None
    age_hours = None
    earlier_problems: list[str] = []
    if previous:  # the scheduled backup before this drill: its age is its artifact's own
        facts = inspect_backup(previous, target_database(run), datetime.now(UTC))
        age_hours, earlier_problems = facts.age_hours, facts.problems
    started = time.monotonic()
    dest = PROJECT_ROOT / ".run" / "backups" / run.spec.launch_id
    status = backup_and_test_restore(postgres_conninfo(run.spec.plan.connections.target_db), dest,
                                     run.spec.plan.evidence.base, run.spec.launch_id)
    drill_seconds = time.monotonic() - started
    measured = {"previous_backup_age_hours": None if age_hours is None else round(age_hours, 3),
                "interval_hours": params.interval_hours, "drill_seconds": round(drill_seconds, 2),
                "rto_hours": params.rto_hours, "restore_ok": status["restore_ok"],
                "row_counts": status["row_counts"], "mismatches": status["mismatches"],
                "backup": status["location"]}
    evidence = [run.evidence.write_json("backup_gates.json", measured, replace=True)]
    problems = [f"the last scheduled backup: {problem}" for problem in earlier_problems]
    if age_hours is None and not earlier_problems:
        problems.append("no earlier backup: backups are not running on a schedule")
    elif age_hours is not None and age_hours > params.interval_hours:
        problems.append(f"the last scheduled backup is {age_hours:.1f} h old (interval {params.interval_hours:g} h)")
    if not status["restore_ok"]:
        problems.append(f"restored row counts differ: {status['mismatches']}")
    if drill_seconds > params.rto_hours * 3600:
        problems.append(f"restore took {drill_seconds / 3600:.2f} h (RTO {params.rto_hours:g} h)")
    if problems or age_hours is None:
        problems = problems or ["no earlier backup to measure"]
        return CheckResult(Outcome.FAILED, "; ".join(problems), measured, evidence=evidence)
    tables = len(status["row_counts"])
    return CheckResult(Outcome.SUCCESSFUL, f"last backup {age_hours * 60:.0f} min old (interval "
                                           f"{params.interval_hours:g} h); restore drill: {tables} tables, row counts "
                                           f"equal, {drill_seconds:.1f} s (RTO {params.rto_hours:g} h)",
                       measured, evidence=evidence)


