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
``include.launch.beta.daily`` and are imported only when a task runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.launch.plan.models import Plan, Scorecard
from include.launch.spec import PhaseSpec, build_phase_spec

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from include.launch.ledger import Ledger, Row

DAY_EVENT = "scorecard_day"
WINDOW_OPENED = ("beta_started", "phase_completed")
WINDOW_CLOSED = ("beta_paused", "rollback_completed")
TASKS = ("beta_window", "platform_metrics", "product_metrics", "surveys", "quality_suites", "score")
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ScorecardSpec:
    """A scorecard of a plan. ``phase_spec`` is its phase, carrying the scorecard's dag_id: ledger
    rows land in the phase (so reviews and status see them), links point at the scorecard DAG."""

    plan_path: str
    plan: Plan
    scorecard: Scorecard
    phase_spec: PhaseSpec

    @property
    def dag_id(self) -> str:
        return self.scorecard.dag_id

    @property
    def launch_id(self) -> str:
        return self.plan.launch.id

    @property
    def title(self) -> str:
        return f"{self.plan.launch.name}: {self.scorecard.id.replace('_', ' ')}"

    @property
    def tags(self) -> list[str]:
        return ["launch", self.launch_id, self.scorecard.phase, "scorecard"]


def build_scorecard_spec(plan: Plan, scorecard_id: str, plan_path: str | Path) -> ScorecardSpec:
    card = next((c for c in plan.scorecards if c.id == scorecard_id), None)
    if card is None:
        raise KeyError(f"plan {plan.launch.id!r} has no scorecard {scorecard_id!r}")
    phase_spec = build_phase_spec(plan, card.phase, plan_path)
    phase = phase_spec.phase.model_copy(update={"dag_id": card.dag_id})
    return ScorecardSpec(str(plan_path), plan, card, replace(phase_spec, phase=phase))


def _step(name: str, spec: ScorecardSpec) -> Callable[..., Any]:
    def run(**context: Any) -> Any:
        from include.launch.beta import daily

        return getattr(daily, name)(spec, context)

    run.__name__ = name
    return run


def task_failure_callback(spec: ScorecardSpec) -> Callable[[Any], None]:
    def on_task_failure(context: Any) -> None:
        from include.launch.beta.daily import record_failure

        record_failure(spec, context, dag_level=False)

    return on_task_failure


def dag_failure_callback(spec: ScorecardSpec) -> Callable[[Any], None]:
    def on_dag_failure(context: Any) -> None:
        from include.launch.beta.daily import record_failure

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


def daily_outcomes(ledger: Ledger, launch_id: str, scorecard_id: str) -> dict[str, Row]:
    """The current ``scorecard_day`` row of each date (a re-run's row replaces the earlier one)."""
    current: dict[str, Row] = {}
    for row in ledger.rows(launch_id=launch_id, event=DAY_EVENT):
        payload = row.payload
        if payload.get("scorecard") == scorecard_id:
            current[str(payload["date"])] = row
    return dict(sorted(current.items()))
