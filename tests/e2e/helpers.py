"""What the e2e tests share: the trigger form, and reading the target, the ledger and the task states."""

from __future__ import annotations

import time
from typing import Any

from include.devservices.airflow_stack import AirflowRest
from include.devservices.demo_target_local import RunningTarget
from include.launch.evidence.ledger import Ledger
from tests.harness.phase import phase1_conf

CONF = phase1_conf(monitor_minutes=0.2, sample_interval_seconds=3)


def pools(target: RunningTarget) -> list[tuple[int, int]]:
    return [(h["pool"]["max"], h["pool"]["min"]) for h in target.health()]  # type: ignore[index]


def run_rows(ledger_url: str, run_id: str) -> list[Any]:
    return [row for row in Ledger(ledger_url).rows() if row.run_id == run_id]


def wait_for_task_state(rest: AirflowRest, dag_id: str, run_id: str, task_id: str, wanted: str,
                         timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rest.task_states(dag_id, run_id).get(task_id) == wanted:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{task_id} never reached {wanted}: {rest.task_states(dag_id, run_id)}")


def form_of(dag: Any) -> dict[str, Any]:
    """The test's trigger form for a variant: only the keys its form offers (a variant without the
    synthetic load has no ``synthetic_requests``; an unknown key is refused)."""
    return {key: value for key, value in CONF.items() if key in dag.params}

