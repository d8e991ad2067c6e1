"""The cost of scale on the CeleryExecutor topology (issue 12).

N concurrent Phase 1 runs of independent launches (N = 1, 4, 16; ``BENCH_CELERY_N`` overrides),
on a real Redis broker, PostgreSQL metadata DB, scheduler, dag-processor, triggerer, api-server
and two Celery workers (``include.devservices.celery_stack``). Each launch is a plan variant with
its own launch id (so the per-launch lock does not serialise them), tiny windows, the quality
suites left out and a small baseline load, run as a dry run (every check and the approval, no
change). The approvals are answered through the REST API as soon as they are asked for.

Reported per N: end-to-end time (first trigger -> last run ended), runs/min, task instances run,
and scheduler overhead per task: the gap between a task's start and the end of the last of its
upstream tasks (for a first task, the run's start), which covers scheduling, queueing in Redis,
waiting for a free worker slot and the worker's start-up. Numbers, no pass/fail.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from include.devservices.airflow_local import configure_environment, migrate_metadata_db  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix="bench-celery-"))
configure_environment(WORK / "airflow")  # the stack's AIRFLOW_HOME: variants go to its scratch bundle
SIZES = [int(n) for n in os.environ.get("BENCH_CELERY_N", "1,4,16").split(",")]
PHASE = "phase1_pool_scaling"
CONF = {"dry_run": True, "monitor_minutes": 0.05, "sample_interval_seconds": 1, "rollback_watch_minutes": 0}


def independent_launch(index: int) -> Any:
    def edit(plan: dict[str, Any]) -> None:
        plan["launch"]["id"] = f"bench_launch_{index:02d}"
        phase = next(p for p in plan["phases"] if p["id"] == PHASE)
        for group in ("pre_checks", "verify"):
            phase[group] = [c for c in phase.get(group, []) if c["kind"] != "quality_suite"]  # GX: 5 s of import
        for check in phase["pre_checks"] + phase["verify"]:
            if check["kind"] == "synthetic_load":
                check["params"].update({"requests": 40, "concurrency": 4})
    return edit


def parse_time(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def overheads(rest: Any, dag_id: str, run_id: str) -> tuple[list[tuple[float, str]], int]:
    """Per task instance: start minus the end of its last upstream (the run's start for roots)."""
    tasks = rest._call("GET", f"/dags/{dag_id}/tasks").json()["tasks"]
    upstream: dict[str, list[str]] = {t["task_id"]: [] for t in tasks}
    for task in tasks:
        for child in task["downstream_task_ids"]:
            upstream[child].append(task["task_id"])
    run = rest._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()
    run_start = parse_time(run["start_date"]) or 0.0
    items = rest._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}).json()
    by_id = {ti["task_id"]: ti for ti in items["task_instances"]}
    gaps = []
    for task_id, ti in by_id.items():
        start = parse_time(ti.get("start_date"))
        if start is None:
            continue  # skipped (rollback on a good run): never scheduled onto a worker
        ends = [parse_time(by_id[u].get("end_date")) for u in upstream.get(task_id, []) if u in by_id]
        ready = max([e for e in ends if e is not None], default=run_start)
        gaps.append((max(0.0, start - ready), task_id))
    return gaps, len(gaps)


def run_batch(stack: Any, dags: list[str]) -> dict[str, Any]:
    operator, approver = stack.rest("operator"), stack.rest("exec_approver")
    started = time.monotonic()
    runs = {dag_id: operator.trigger(dag_id, CONF) for dag_id in dags}
    pending = dict(runs)
    ended: dict[str, str] = {}
    deadline = time.monotonic() + 900
    while len(ended) < len(runs) and time.monotonic() < deadline:
        for item in approver.pending_approvals():
            ti = item["task_instance"]
            if pending.get(ti["dag_id"]) == ti["dag_run_id"]:
                approver.answer(ti["dag_id"], ti["dag_run_id"], ti["task_id"])
        for dag_id, run_id in runs.items():
            if dag_id not in ended:
                state = operator.run_state(dag_id, run_id)
                if state in ("success", "failed"):
                    ended[dag_id] = state
        time.sleep(1)
    elapsed = time.monotonic() - started
    gaps: list[tuple[float, str]] = []
    tasks = 0
    for dag_id, run_id in runs.items():
        run_gaps, count = overheads(operator, dag_id, run_id)
        gaps += run_gaps
        tasks += count
    failed = [d for d, s in ended.items() if s != "success"] + [d for d in runs if d not in ended]
    return {"elapsed": elapsed, "tasks": tasks, "gaps": gaps, "failed": failed}


def main() -> None:
    from include.devservices.celery_stack import celery_stack
    from include.devservices.demo_target_local import LiveTraffic, running_target
    from include.devservices.postgres import airflow_connection_json, start_server
    from include.devservices.slack_receiver import SlackReceiver
    from include.launch.evidence.ledger import Ledger
    from include.launch.evidence.store import EvidenceStore
    from tests.harness.phase import build_variant

    migrate_metadata_db()  # this process's own SQLite DB: build_variant parses the variants with a DagBag
    server = start_server()
    ledger_url, target_url = server.create_database("bench_celery_ledger"), server.create_database("bench_celery_t")
    metadata_url = server.create_database("bench_celery_airflow")
    Ledger(ledger_url).ensure_schema()
    evidence = WORK / "evidence"
    # The pre-launch evidence the pre-checks read, made here (tests.conftest is not imported: it would
    # point AIRFLOW_HOME at a folder of its own): a real backup and the rollback plan.
    from include.launch.plugins.checks.backup import backup_and_test_restore

    store = EvidenceStore(str(evidence))
    backup_and_test_restore(target_url, WORK / "backups", str(evidence), "accubooks")
    store.write_text("pre_launch/rollback_plan.md", "# Rollback plan\nRevert the env file; rolling restart.\n")
    dags = [build_variant("accubooks", PHASE, independent_launch(i)).dag_id for i in range(max(SIZES))]
    slack = SlackReceiver().start()
    try:
        from include.devservices.node_exporter import connection_json, running_node_exporter

        with running_target(target_url, WORK / "target") as target, LiveTraffic(target.urls), \
                running_node_exporter(WORK / "node_exporter") as db_host:
            env = {"AIRFLOW_CONN_LAUNCH_DB": airflow_connection_json(ledger_url),
                   "AIRFLOW_CONN_ACCUBOOKS_DB_HOST": connection_json(db_host),
                   "AIRFLOW_CONN_ACCUBOOKS_DB": airflow_connection_json(target_url),
                   "AIRFLOW_CONN_ACCUBOOKS_API": target.connection_json(),
                   "AIRFLOW_CONN_SLACK_LAUNCH": slack.connection_json(),
                   "LAUNCH_EVIDENCE_BASE": str(evidence)}
            with celery_stack(WORK, metadata_url, env, min_file_process_interval=600) as stack:
                slots = sum(worker.concurrency for worker in stack.workers)
                print(f"Celery topology: {len(stack.workers)} workers, {slots} slots, {os.cpu_count()} cores; "
                      f"Phase 1 dry run of independent launches (plan variants, quality suites left out)")
                operator = stack.rest("operator")
                for dag_id in dags:
                    operator.wait_for_dag(dag_id, timeout=300)
                for n in SIZES:
                    result = run_batch(stack, dags[:n])
                    worst = sorted(result["gaps"], reverse=True)
                    gaps = sorted(gap for gap, _ in worst)
                    p95 = gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))] if gaps else float("nan")
                    mean = statistics.fmean(gaps) if gaps else float("nan")
                    print(f"N={n:>2}: end-to-end {result['elapsed']:6.1f} s, "
                          f"{60 * n / result['elapsed']:5.1f} runs/min, {result['tasks']} task instances; "
                          f"scheduler overhead per task mean {mean:5.2f} s, p95 {p95:5.2f} s"
                          + f"; largest: {', '.join(f'{task} {gap:.1f} s' for gap, task in worst[:3])}"
                          + (f"; NOT SUCCESSFUL: {result['failed']}" if result["failed"] else ""), flush=True)
        problems = Ledger(ledger_url).verify()
        print(f"ledger: {'verifies' if not problems else problems[:3]}")
    finally:
        slack.stop()
        for url in (ledger_url, target_url, metadata_url):
            server.drop_database(url)
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
