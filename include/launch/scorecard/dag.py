"""Daily scorecard DAGs: one builder for every plan's ``scorecards`` entry (AccuBooks' beta daily
metrics, Launch B's first-week metrics).

    beta_window -> platform_metrics, product_metrics, surveys, quality_suites -> score

``beta_window`` skips the whole run unless the scorecard's window is open on the logical date: the
window opens with the phase's ``beta_started`` (or ``phase_completed``) ledger row and lasts the
scorecard's days (or the days that row names); the phase's ``rollback_completed`` row closes it. A
``beta_paused`` row (a P0 found by ``quality_suites`` pauses the beta by itself; the launch's beta
control DAG pauses it by hand) makes the next days paused days until a ``beta_resumed`` row. Days
of the window missed earlier are scored by the next run (catch-up). Each day's
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


def _step(name: str, spec: ScorecardSpec, module: str = "daily") -> Callable[..., Any]:
    """A task callable running ``include.launch.scorecard.<module>.<name>(spec, context)``, imported
    only when the task runs."""
    def run(**context: Any) -> Any:
        from importlib import import_module

        return getattr(import_module(f"include.launch.scorecard.{module}"), name)(spec, context)

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


def build_beta_control_dag(spec: ScorecardSpec) -> DAG:
    """``<launch>_beta_control``: pause the running beta by hand, or resume a paused one, as the
    signed-in user (the plan's pause_roles / resume_roles decide who may)."""
    from airflow.sdk import DAG, Param, task

    from include.access.roles import BETA_CONTROL_SUFFIX
    from include.launch.scorecard.pause import ACTIONS, REASON_MIN_CHARS

    with DAG(
        dag_id=f"{spec.launch_id}{BETA_CONTROL_SUFFIX}",
        description=f"{spec.plan.launch.name}: pause or resume the beta ({spec.scorecard.phase})",
        schedule=None, start_date=START_DATE, catchup=False, max_active_runs=1,
        tags=[*spec.tags, "beta control"],
        default_args={"owner": spec.plan.launch.owner, "retries": 0,
                      "on_failure_callback": task_failure_callback(spec)},
        on_failure_callback=dag_failure_callback(spec),  # a refused pause or resume is said in Slack
        params={
            "action": Param(ACTIONS[0], type="string", enum=list(ACTIONS), title="Pause or resume"),
            "reason": Param("", type="string", minLength=REASON_MIN_CHARS, maxLength=2000, title="Reason",
                            description="Why, in words the cohort's e-mail and the incident review will read."),
        },
        doc_md=f"### {spec.title}: beta control\n\nPausing turns the beta flags off for the cohort, keeps every "
               "row, exports each tenant's data as CSV and tells the invitees; the days that follow are scored as "
               "paused. Resuming needs the incidents that paused it resolved. You act as the signed-in user.",
    ) as dag:
        task(task_id="beta_control")(_step("control", spec, "pause"))()
    return dag


def build_flag_expiry_dag(spec: ScorecardSpec) -> DAG:
    """``<launch>_beta_flag_expiry``: every quarter hour, turn off the beta's flags that have expired."""
    from airflow.sdk import DAG, task

    with DAG(
        dag_id=f"{spec.launch_id}_beta_flag_expiry",
        description=f"{spec.plan.launch.name}: turn off the beta's feature flags at their expiry",
        schedule="*/15 * * * *", start_date=START_DATE, catchup=False, max_active_runs=1,
        tags=[*spec.tags, "beta flags"],
        default_args={"owner": spec.plan.launch.owner, "retries": 1, "retry_delay": timedelta(minutes=1),
                      "on_failure_callback": task_failure_callback(spec)},
        on_failure_callback=dag_failure_callback(spec),
        doc_md="Turns off each beta flag whose `expires_at` has passed (detailed logging after its hours, the beta "
               "flag at the planned end) and records the tenants in the ledger (`beta_flags_expired`).",
    ) as dag:
        task(task_id="expire_flags")(_step("expire_flags", spec, "flags"))()
    return dag
