"""Phase 1's two triggers on the database host, driven by the test itself on dag.test: connection
thrashing (new server connections per minute, from PostgreSQL's statistics over TCP) and host CPU
(from the node exporter's own /metrics). Each fires during the soak, names itself and rolls back."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.faults import WhenLedgerShows
from tests.harness.latency import latency_cannot_decide
from tests.harness.phase import build_variant, only_the_load_gates, phase1_conf

CONF = {**phase1_conf(monitor_minutes=1, sample_interval_seconds=2), "synthetic_requests": 100}
APPROVE = [Answer("approve", user="exec_approver", params=REVIEWED)]


def trigger_at(metric: str, threshold: float) -> Callable[[dict[str, Any]], None]:
    """The plan's trigger on ``metric`` with a threshold the test's own load reaches (sustained 3 s)."""
    def edit(plan: dict[str, Any]) -> None:
        phase = plan["phases"][0]
        trigger = next(t for t in phase["rollback_triggers"] if t["metric"] == metric)
        trigger["threshold"], trigger["sustained_minutes"] = threshold, 0.05
        phase["evidence_files"] = []  # its subject is the trigger; the evidence list has its own tests
    return edit


class Churner:
    """Opens and closes connections to the target database as fast as it can: thrashing."""

    def __init__(self, db_url: str) -> None:
        self.db_url, self.stop = db_url, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            psycopg.connect(self.db_url, connect_timeout=5).close()


def _burn() -> None:
    os.nice(19)  # busy for the exporter, last in line for every other process
    while True:
        pass


def run_with(launch_env: dict[str, Any], approvals: ApprovalClient, edit: Callable[[dict[str, Any]], None],
             start: Callable[[], Callable[[], None]]) -> tuple[Any, str]:
    dag = build_variant("accubooks", "phase1_pool_scaling", only_the_load_gates, latency_cannot_decide, edit)
    stops: list[Callable[[], None]] = []
    try:
        with WhenLedgerShows(launch_env["ledger"], "soak_started", lambda: stops.append(start())) as fault:
            dag_run, _ = run_dag(dag, client=approvals, conf=CONF, answers=APPROVE)
    finally:
        for stop in stops:
            stop()
    assert fault.fired.is_set()
    (triggered,) = Ledger(launch_env["ledger"]).rows(event="rollback_triggered")
    return dag_run, str(triggered.payload["summary"])


def rolled_back(launch_env: dict[str, Any], dag_run: Any) -> None:
    assert dag_run.state == "failed"
    assert [(h["pool"]["max"], h["pool"]["min"]) for h in launch_env["target"].health()] == [(50, 10), (50, 10)]
    assert len(Ledger(launch_env["ledger"]).rows(event="rollback_completed")) == 1


def test_connection_thrashing_during_the_soak_rolls_back(launch_env: dict[str, Any],
                                                         approvals: ApprovalClient) -> None:
    def thrash() -> Callable[[], None]:
        churner = Churner(launch_env["target"].db_url)
        churner.thread.start()
        return churner.stop.set

    dag_run, summary = run_with(launch_env, approvals, trigger_at("connection_churn_count", 300), thrash)
    assert "rollback trigger connection_churn_count > 300 for 0.05 min" in summary, summary
    rolled_back(launch_env, dag_run)


def test_database_host_cpu_during_the_soak_rolls_back(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    def burn() -> Callable[[], None]:
        burners = [multiprocessing.get_context("spawn").Process(target=_burn, daemon=True)
                   for _ in range(os.cpu_count() or 2)]
        for burner in burners:
            burner.start()

        def stop() -> None:
            for burner in burners:
                burner.kill()
        return stop

    dag_run, summary = run_with(launch_env, approvals, trigger_at("db_cpu_percent", 60), burn)
    assert "rollback trigger db_cpu_percent > 60 for 0.05 min" in summary, summary
    rolled_back(launch_env, dag_run)
