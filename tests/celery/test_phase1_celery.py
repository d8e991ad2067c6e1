"""Phase 1 on the CeleryExecutor topology (issue 12), driven only through the REST API.

A real Redis broker, a PostgreSQL metadata database, api-server, scheduler, dag-processor,
triggerer and two Celery workers as processes: the docker-compose topology without Docker. The
operator triggers, an approver answers the Required Action, the run ends; the task instances'
``hostname`` (from the REST API) shows tasks on both workers, and the ledger verifies.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include.devservices.airflow_local import scratch_dags
from include.devservices.celery_stack import CHECK_QUEUE, DEFAULT_QUEUE, DEFAULT_WORKERS, CeleryStack, celery_stack
from include.devservices.postgres import PostgresServer
from include.launch.evidence.ledger import Ledger
from tests.harness.answers import REVIEWED
from tests.harness.latency import latency_cannot_decide
from tests.harness.phase import build_variant, only_the_load_gates, phase1_conf
from tests.harness.phase1_services import phase1_services

pytestmark = pytest.mark.serial  # a whole Airflow (see Makefile)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "celery"
CONF = phase1_conf(monitor_minutes=0.2, sample_interval_seconds=3)


@pytest.fixture(scope="module")
def stack(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory,
          airflow_db: Path) -> Iterator[dict[str, Any]]:
    """``airflow_db``: the test process parses plan variants, which reads its own metadata DB."""
    work = tmp_path_factory.mktemp("celery")
    with phase1_services(pg_server, work, "celery") as services:
        try:
            with celery_stack(work, services.metadata_url, services.env) as airflow:
                # Phase 1 with no freeze today (a plan variant, not the calendar); its subject is where
                # tasks run, so the load gates stand for every check and no latency decides.
                phase1 = build_variant("accubooks", "phase1_pool_scaling", only_the_load_gates,
                                       latency_cannot_decide, folder=scratch_dags(airflow.home))
                yield {"airflow": airflow, "target": services.target, "ledger": services.ledger_url,
                       "slack": services.slack, "dag_id": phase1.dag_id}
        finally:
            # Process and task logs are the first thing to read when a Celery run fails.
            shutil.copytree(work / "airflow", ARTIFACTS / "airflow", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.db", "*.cfg"))


def test_workers_consume_their_own_queues(stack: dict[str, Any]) -> None:
    airflow: CeleryStack = stack["airflow"]
    queues = airflow.active_queues()
    by_worker = {name.split("@")[0]: names for name, names in queues.items()}
    assert by_worker == {"celery-worker-1": [DEFAULT_QUEUE], "celery-worker-2": [CHECK_QUEUE]}


def test_phase1_on_celery_lands_on_both_workers(stack: dict[str, Any]) -> None:
    airflow: CeleryStack = stack["airflow"]
    dag_id = stack["dag_id"]
    operator, approver = airflow.rest("operator"), airflow.rest("exec_approver")
    run_id = operator.trigger(dag_id, CONF)
    approver.wait_for_approval(dag_id, run_id, "approve")
    assert approver.answer(dag_id, run_id, "approve", params=REVIEWED).status_code == 200
    assert operator.wait_for_end(dag_id, run_id) == "success", operator.task_states(dag_id, run_id)

    response = operator._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    instances = response.json()["task_instances"]
    ran = [ti for ti in instances if ti["state"] == "success" and ti["hostname"]]
    hosts = {ti["task_id"]: ti["hostname"] for ti in ran}
    assert set(hosts.values()) == {worker.name for worker in DEFAULT_WORKERS}, hosts
    queues = {ti["task_id"]: ti["queue"] for ti in ran}
    assert all(queues[task] == CHECK_QUEUE for task, host in hosts.items() if host == "celery-worker-2"), queues
    # The change on one worker, its verification on the other: nothing can pass through local disk.
    assert hosts["apply_change"] == "celery-worker-1"
    assert any(task.startswith("verify.") and host == "celery-worker-2" for task, host in hosts.items())

    assert [h["pool"]["max"] for h in stack["target"].health()] == [120, 120]
    ledger = Ledger(stack["ledger"])
    given = [row for row in ledger.rows(event="approval_given") if row.run_id == run_id]
    assert given and given[-1].actor == "exec_approver"
    assert [row for row in ledger.rows(event="phase_completed") if row.run_id == run_id]
    assert ledger.verify() == []
    assert any("completed" in text for text in stack["slack"].texts())
