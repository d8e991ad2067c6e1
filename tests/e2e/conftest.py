"""One real Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor) for the e2e
module, beside a demo target with live traffic, its own ledger, evidence base and Slack receiver."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include.devservices.airflow_local import scratch_dags
from include.devservices.airflow_stack import AirflowStack
from include.devservices.postgres import PostgresServer
from tests.harness.phase import build_variant
from tests.harness.phase1_services import phase1_services

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"


@pytest.fixture(scope="module")
def stack(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory,
          airflow_db: Path) -> Iterator[dict[str, Any]]:
    """``airflow_db``: the test process parses plan variants, which reads its own metadata DB."""
    work = tmp_path_factory.mktemp("e2e")
    with phase1_services(pg_server, work, "e2e") as services:
        airflow = AirflowStack(work / "airflow", services.metadata_url, extra_env=services.env).start()
        try:
            # The shipped Phase 1 with its own thresholds, and no freeze today: a plan variant, not the calendar.
            phase1 = build_variant("accubooks", "phase1_pool_scaling", shorten=False, folder=scratch_dags(airflow.home))
            yield {"airflow": airflow, "target": services.target, "ledger": services.ledger_url,
                   "slack": services.slack, "evidence": services.evidence, "dag_id": phase1.dag_id}
        finally:
            airflow.stop()
            # Process and task logs are the first thing to read when an e2e run fails.
            shutil.copytree(work / "airflow", ARTIFACTS / "airflow", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.db", "*.cfg"))
