"""``<launch>_ledger_verification``: every hour, the ledger verified as ``python -m include.launch.ledger
verify`` would (the chain, every evidence file's hash, the signed checkpoints), the result stored for
the board, and a broken ledger told to Slack as a P0 and failed loudly.

Nobody has to remember to run the CLI: a row rewritten or deleted by someone who can write the
ledger database is found within the hour, with the row named. No incident is opened for it: an
incident lives in the ledger that was just found untrustworthy, so the alarm goes outside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from include.launch.engine.callbacks import launch_task_failure_notifier, log_dag_failure
from include.launch.plan.models import Plan

SUFFIX = "_ledger_verification"


def verify_launch_ledger(plan: Plan) -> dict[str, Any]:
    """Verify and store; a broken ledger, or one that cannot be read, fails the task with the first
    problem named (its failure callback tells Slack as a P0)."""
    import psycopg
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    from include.launch.evidence.ledger import Ledger
    from include.launch.evidence.verification import cannot_run, verify_and_store

    try:
        result = verify_and_store(Ledger.from_connection(plan.connections.ledger), plan.evidence.base,
                                  plan.connections.signing_key)
    except (AirflowNotFoundException, psycopg.Error) as exc:
        raise AirflowFailException(cannot_run(exc)) from None
    if not result.ok:
        raise AirflowFailException(f"BROKEN: {len(result.problems)} problem(s); first: {result.problems[0]}")
    return {"ok": result.ok, "rows": result.rows, "key_id": result.key_id}


def build_verification_dag(plan: Plan, plan_path: str | Path) -> DAG:
    with DAG(
        dag_id=f"{plan.launch.id}{SUFFIX}",
        description=f"{plan.launch.name}: verify the evidence ledger and its signed checkpoints every hour",
        schedule="@hourly", catchup=False, max_active_runs=1,
        tags=["launch", plan.launch.id, "evidence"],
        default_args={"owner": plan.launch.owner, "retries": 0, "on_failure_callback":
                      launch_task_failure_notifier(plan, plan_path, "ledger verification", severity="P0",
                                                   record=False)},
        on_failure_callback=log_dag_failure,
        doc_md=__doc__,
    ) as dag:
        @task(task_id="verify_ledger")
        def verify_ledger() -> dict[str, Any]:
            return verify_launch_ledger(plan)

        verify_ledger()
    return dag
