"""Gates on the service's own metrics (every API route, CFUR included) and the Go/No-Go table.

``service_gate`` measures the replicas' /metrics over a window. ``decision_table`` adds the
database server's CPU over the same window and the backup status, renders the table of the launch
document with the measured values (``go_no_go_table.md``) and says GO only when every row holds.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceStore
from include.launch.plugins.checks.base import CheckResult, CriterionResult, evaluate
from include.launch.plugins.checks.catalog import DecisionTableParams, ServiceGateParams
from include.launch.plugins.checks.service_probe import interval_values, measurement_slot, scrape
from include.launch.plugins.target import Target


def service_gate(run: PhaseRun, params: ServiceGateParams) -> CheckResult:
    urls = Target.from_connection(run.spec.plan.connections.target_api).replicas
    with measurement_slot(run):
        first = scrape(run, urls)
        time.sleep(params.window_seconds)
        values = interval_values(run, first, scrape(run, urls))
    results = evaluate(params.criteria, values)
    name = run.task_id.split(".")[-1]
    document = {"window_seconds": params.window_seconds, "values": values, "criteria": [r.as_dict() for r in results]}
    evidence = [run.evidence.write_json(f"{name}_verify.json", document, replace=True)]
    return CheckResult.from_criteria(results, what=f"service metrics over {params.window_seconds:g} s",
                                     measured={"metrics": values}, evidence=evidence)


# --- database CPU ---------------------------------------------------------------------------

def _server_processes(run: PhaseRun) -> list[Any]:
    """The database server's processes (postmaster and children), found from our backend's pid."""
    import psutil
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    # The connection stays open until the postmaster is found: a closed backend exits, and on a
    # busy machine it may be gone before psutil looks it up.
    with closing(PostgresHook(postgres_conn_id=run.spec.plan.connections.target_db).get_conn()) as connection:
        with closing(connection.cursor()) as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = int(cursor.fetchone()[0])
        try:
            postmaster = psutil.Process(pid).parent()
        except psutil.Error:
            return []
    if postmaster is None or "postgres" not in postmaster.name():
        return []
    return [postmaster, *postmaster.children(recursive=True)]


def _cpu_seconds(processes: list[Any]) -> dict[int, float]:
    import psutil

    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
        except psutil.Error:
            continue
    return seconds


class DatabaseCpu:
    """CPU of the database server over an interval, in percent of the machine (all cores)."""

    def __init__(self, run: PhaseRun) -> None:
        self.run = run
        self.processes: list[Any] = []
        self.before: dict[int, float] = {}
        self.started = 0.0

    def start(self) -> None:
        self.processes = _server_processes(self.run)
        self.before = _cpu_seconds(self.processes)
        self.started = time.monotonic()

    def percent(self) -> float | None:
        import psutil

        if not self.processes:
            return None
        refreshed = _server_processes(self.run) or self.processes
        after = _cpu_seconds(refreshed)
        used = sum(after[pid] - self.before.get(pid, 0.0) for pid in after)
        elapsed = time.monotonic() - self.started
        return max(used, 0.0) / (elapsed * (psutil.cpu_count() or 1)) * 100 if elapsed > 0 else None


# --- the Go/No-Go table ---------------------------------------------------------------------

def _backup_row(run: PhaseRun, params: DecisionTableParams) -> dict[str, Any]:
    store = EvidenceStore(run.spec.plan.evidence.base)
    if params.backup_interval_hours is None:
        return {}
    row: dict[str, Any] = {"criterion": "Active backups", "threshold": f"every {params.backup_interval_hours:g} h",
                           "actual": "no backup status", "ok": False}
    from include.launch.plugins.checks.backup import inspect_backup, status_path
    from include.launch.plugins.checks.backups import target_database

    path = status_path(run.spec.launch_id, params.status_file)
    if store.exists(path):
        facts = inspect_backup(json.loads(store.read_bytes(path)), target_database(run), datetime.now(UTC))
        if facts.problems:
            row.update(actual="; ".join(facts.problems))
            return row
        age = float(facts.age_hours or 0.0)
        restore = "restore tested" if facts.restore_tested else "restore NOT tested"
        row.update(actual=f"last {age * 60:.0f} min ago, {restore}", age_hours=round(age, 3),
                   ok=age <= params.backup_interval_hours and facts.restore_tested)
    return row


def _format(result: CriterionResult) -> str:
    value = result.measured
    if value is None:
        return "no data"
    unit = result.criterion.metric.unit.value
    return f"{value:.2f} %" if unit == "percent" else f"{value:.0f} ms" if unit == "ms" else f"{value:g}"


def render_table(run: PhaseRun, results: list[CriterionResult], backup: dict[str, Any], decision: str,
                 window: float) -> str:
    lines = [f"# Go/No-Go decision: {run.spec.plan.launch.name}", "",
             f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC over {window:g} s (run `{run.run_id}`).", "",
             "| Criterion | Threshold | Actual | Status |", "|-----------|-----------|--------|--------|"]
    for result in results:
        label = result.criterion.description or result.criterion.metric.value
        status = "GO" if result.outcome is Outcome.SUCCESSFUL else "NO-GO"
        lines.append(f"| {label} | {result.criterion.op.value} {result.criterion.threshold:g} | {_format(result)} | "
                     f"{status} |")
    if backup:
        lines.append(f"| {backup['criterion']} | {backup['threshold']} | {backup['actual']} | "
                     f"{'GO' if backup['ok'] else 'NO-GO'} |")
    roles = run.spec.phase.approval.signoff_roles
    lines += ["", f"**Decision:** {decision}", ""]
    if roles:
        lines += ["## Sign-off", "", "Each role is a separate approval in Airflow, by a different person "
                  "(recorded in the ledger with who and when):", ""]
        lines += [f"- **{role}:** pending (task `approve_{''.join(c if c.isalnum() else '_' for c in role.lower())}`)"
                  for role in roles]
    return "\n".join(lines) + "\n"


def decision_table(run: PhaseRun, params: DecisionTableParams) -> CheckResult:
    urls = Target.from_connection(run.spec.plan.connections.target_api).replicas
    cpu = DatabaseCpu(run)
    with measurement_slot(run):
        first = scrape(run, urls)
        cpu.start()
        done = threading.Event()
        done.wait(params.window_seconds)
        values = interval_values(run, first, scrape(run, urls))
        values["db_cpu_percent"] = cpu.percent()
    results = evaluate(params.criteria, values)
    backup = _backup_row(run, params)
    go = all(r.outcome is Outcome.SUCCESSFUL for r in results) and (not backup or backup["ok"])
    decision = "GO (pending the sign-offs below)" if go else "NO-GO"
    table = render_table(run, results, backup, decision, params.window_seconds)
    evidence = [run.evidence.write_text(params.file, table, replace=True),
                run.evidence.write_json("go_no_go_values.json", {"values": values, "backup": backup,
                                                                  "criteria": [r.as_dict() for r in results]},
                                        replace=True)]
    measured = {"metrics": values, "backup": backup, "decision": "GO" if go else "NO-GO"}
    if go:
        return CheckResult(Outcome.SUCCESSFUL, "Go/No-Go table: GO, " + ", ".join(
            f"{r.criterion.metric.value} {_format(r)}" for r in results) + f"; backups {backup.get('actual', 'n/a')}",
            measured, results, evidence)
    failing = [f"{r.criterion} (measured {_format(r)})" for r in results if r.outcome is not Outcome.SUCCESSFUL]
    if backup and not backup["ok"]:
        failing.append(f"backups {backup['threshold']} (actual {backup['actual']})")
    outcome = Outcome.FAILED if any(r.outcome is Outcome.FAILED for r in results) or (backup and not backup["ok"]) \
        else Outcome.INCONCLUSIVE
    return CheckResult(outcome, "Go/No-Go table: NO-GO, " + "; ".join(failing), measured, results, evidence)
