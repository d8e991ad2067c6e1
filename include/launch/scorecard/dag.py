"""Daily scorecard DAGs: one builder for every plan's ``scorecards`` entry (AccuBooks' beta daily
metrics, Launch B's first-week metrics).

    beta_window -> platform_metrics, product_metrics, surveys, quality_suites -> score

``beta_window`` skips the whole run unless the scorecard's window is open on the logical date: the
window opens with the phase's ``beta_started`` (or ``phase_completed``) ledger row and lasts the
scorecard's days (or the days that row names); a ``beta_paused`` or ``rollback_completed`` row
closes it. Days of the window missed earlier are scored by the next run (catch-up). Each day's
evidence is replaced by a re-run, and its ``scorecard_day`` ledger row names the row it replaces,
so ``daily_outcomes`` gives exactly one outcome per date.

Public API: ``build_scorecard_spec(plan, scorecard_id, plan_path)``, ``build_scorecard_dag(spec)``,
``ScorecardSpec``, ``daily_outcomes(ledger, launch_id, scorecard_id)``; DAG files call
``include.launch.dags.scorecard_dag(plan, scorecard_id)``. Task bodies live in
``include.launch.scorecard.daily`` and are imported only when a task runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from include.launch.spec.scorecard import ScorecardSpec

if TYPE_CHECKING:
    from airflow.sdk import DAG

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)


def _step(name: str, spec: ScorecardSpec) -> Callable[..., Any]:
    def run(**context: Any) -> Any:
        from include.launch.scorecard import daily

        return getattr(daily, name)(spec, context)

    run.__name__ = name
    return run


def task_failure_callback(spec: ScorecardSpec) -> Callable[[Any], None]:
    def on_task_failure(context: Any) -> None:
        from include.launch.scorecard.daily import record_failure

        record_failure(spec, context, dag_level=False)

    return on_task_failure


def dag_failure_callback(spec: ScorecardSpec) -> Callable[[Any], None]:
    def on_dag_failure(context: Any) -> None:
        from include.launch.scorecard.daily import record_failure

        record_failure(spec, context, dag_level=True)

    return on_dag_failure


def build_scorecard_dag(spec: ScorecardSpec) -> DAG:
    from airflow.sdk import DAG, task

    card = spec.scorecard
    with DAG(
        dag_id=spec.dag_id,
        description=f"{spec.title}: {len(card.criteria)} criteria scored daily for {card.days} days",
        schedule=card.schedule,
        start_date=START_DATE,
        catchup=False,  # missed days inside the window are caught up by the next run, never from START_DATE
        max_active_runs=1,
        tags=spec.tags,
        default_args={
            "owner": spec.plan.launch.owner,
            "retries": 1,
            "retry_delay": timedelta(seconds=10),
            "on_failure_callback": task_failure_callback(spec),
        },
        on_failure_callback=dag_failure_callback(spec),
        doc_md=f"### {spec.title}\n\nScores {', '.join(c.metric.value for c in card.criteria)} each day of the "
               f"`{card.phase}` window ({card.days} days); evidence in `{card.evidence_folder}/`. Runs only while "
               f"the window is open (otherwise every task is skipped). Plan `{spec.plan_path}`.",
    ) as dag:
        window = task(task_id="beta_window", retries=0)(_step("window", spec))()
        collectors = [
            task(task_id="platform_metrics")(_step("platform_metrics", spec))(),
            task(task_id="product_metrics")(_step("product_metrics_task", spec))(),
            task(task_id="surveys")(_step("surveys", spec))(),
            task(task_id="quality_suites", retries=0)(_step("quality_suites", spec))(),
        ]
        score = task(task_id="score", retries=0)(_step("score", spec))()
        window >> collectors  # type: ignore[operator]
        collectors >> score  # type: ignore[operator]
    return dag
