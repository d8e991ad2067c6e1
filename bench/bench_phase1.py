"""Phase 1 benchmarks (issue 5), on real replicas and a real PostgreSQL:

1. breach-to-rollback: a fault injected during the soak -> the old pool values verified on every
   replica, with a 5 s sample interval (goal: under 2 intervals + 10 s). The variant's error-rate
   trigger fires at the first breaching sample (sustained_minutes 0), so the number measures the
   engine, not the plan's 5-minute patience.
2. the synthetic load's p95 against wrk on the same endpoint and concurrency, same run (goal: within 20 %).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from include.devservices.airflow_local import configure_environment, migrate_metadata_db  # noqa: E402

HOME = Path(tempfile.mkdtemp(prefix="bench-airflow-"))
configure_environment(HOME)
INTERVAL = 5.0
WRK_SCRIPT = ('done = function(summary, latency, requests) '
              'io.write(string.format("p95_us=%d\\n", latency:percentile(95))) end\n')


def immediate_error_trigger(plan: dict) -> None:  # type: ignore[type-arg]
    for trigger in plan["phases"][0]["rollback_triggers"]:
        if trigger["metric"] == "error_rate_percent":
            trigger["sustained_minutes"] = 0


def bench_breach_to_rollback(server: object, work: Path) -> None:
    from include.devservices.airflow_local import Answer, ApprovalClient, run_dag
    from include.devservices.demo_target_local import LiveTraffic, running_target
    from include.devservices.postgres import airflow_connection_json
    from include.devservices.slack_receiver import SlackReceiver
    from include.launch.evidence.ledger import Ledger
    from include.launch.evidence.store import EvidenceStore
    from tests.harness.phase import build_variant

    ledger_url = server.create_database("bench_ledger")  # type: ignore[attr-defined]
    target_url = server.create_database("bench_target")  # type: ignore[attr-defined]
    os.environ["LAUNCH_EVIDENCE_BASE"] = str(work / "evidence")
    os.environ["AIRFLOW_CONN_LAUNCH_DB"] = airflow_connection_json(ledger_url)
    os.environ["AIRFLOW_CONN_ACCUBOOKS_DB"] = airflow_connection_json(target_url)
    Ledger(ledger_url).ensure_schema()
    slack = SlackReceiver().start()
    os.environ["AIRFLOW_CONN_SLACK_LAUNCH"] = slack.connection_json()
    from include.launch.plugins.checks.backup import backup_and_test_restore

    store = EvidenceStore(str(work / "evidence"))
    backup_and_test_restore(target_url, work / "backups", str(work / "evidence"), "accubooks")  # a real backup
    store.write_text("pre_launch/rollback_plan.md", "# Rollback plan\nRevert the env file; rolling restart.\n")
    injected: dict[str, float] = {}
    from include.devservices.node_exporter import connection_json, running_node_exporter

    with running_target(target_url, work / "target", tenants=200) as target, LiveTraffic(target.urls), \
            running_node_exporter(work / "node_exporter") as db_host:
        os.environ["AIRFLOW_CONN_ACCUBOOKS_API"] = target.connection_json()
        os.environ["AIRFLOW_CONN_ACCUBOOKS_DB_HOST"] = connection_json(db_host)
        ledger = Ledger(ledger_url)

        def inject_when_soaking() -> None:
            while not ledger.rows(event="soak_started"):
                time.sleep(0.1)
            time.sleep(INTERVAL + 1)  # one clean sample first
            target.set_faults(error_rate=0.5)
            injected["at"] = time.time()

        threading.Thread(target=inject_when_soaking, daemon=True).start()
        dag = build_variant("accubooks", "phase1_pool_scaling", immediate_error_trigger)
        conf = {"pool_max": 120, "pool_min": 20, "monitor_minutes": 5, "sample_interval_seconds": INTERVAL,
                "synthetic_requests": 200, "concurrency": 8, "rollback_watch_minutes": 0}
        run_dag(dag, client=ApprovalClient(), conf=conf, answers=[Answer("approve", user="exec_approver")])
        done = ledger.rows(event="rollback_completed")
        pools = [h["pool"]["max"] for h in target.health()]
    slack.stop()
    if not done or "at" not in injected:
        print("breach-to-rollback: no rollback observed (FAILED TO MEASURE)")
        return
    seconds = done[0].recorded_at.timestamp() - injected["at"]
    goal = 2 * INTERVAL + 10
    print(f"breach-to-rollback: {seconds:.1f} s from fault to old values verified on every replica "
          f"(pool max now {pools}); sample interval {INTERVAL:g} s; goal < {goal:g} s; ratio {seconds / goal:.2f}")


def bench_load_vs_wrk(server: object, work: Path) -> None:
    from include.devservices.demo_target_local import running_target
    from include.launch.plugins.load import run_load

    target_url = server.create_database("bench_wrk")  # type: ignore[attr-defined]
    with running_target(target_url, work / "wrk_target", tenants=50) as target:
        url = f"{target.urls[0]}/tenants/1/invoices"
        concurrency, total = 10, 3000
        run_load([url], total=300, concurrency=concurrency)  # warm-up
        ours = run_load([url], total=total, concurrency=concurrency)
        script = work / "p95.lua"
        script.write_text(WRK_SCRIPT)
        out = subprocess.run(["wrk", "-t2", f"-c{concurrency}", "-d15s", "-s", str(script), url],
                             capture_output=True, text=True, check=True).stdout
        wrk_p95 = int(re.search(r"p95_us=(\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    our_p95 = ours.percentile(0.95) or 0.0
    print(f"synthetic load p95: ours {our_p95:.1f} ms ({total} requests, concurrency {concurrency}, "
          f"{ours.summary()['throughput_rps']} rps) vs wrk {wrk_p95:.1f} ms, same endpoint and concurrency; "
          f"ratio {our_p95 / wrk_p95:.2f} (goal within 20 %)")


def main() -> None:
    from include.devservices.postgres import start_server

    migrate_metadata_db()
    server = start_server()
    work = Path(tempfile.mkdtemp(prefix="bench-phase1-"))
    try:
        if shutil.which("wrk"):
            bench_load_vs_wrk(server, work)
        else:
            print("synthetic load vs wrk: wrk not installed (make bench installs it)")
        bench_breach_to_rollback(server, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(HOME, ignore_errors=True)


if __name__ == "__main__":
    main()
