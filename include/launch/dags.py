"""The public loaders DAG files call: ``phase_dag("accubooks", "phase1_pool_scaling")`` and
``scorecard_dag("accubooks", "beta_daily_metrics")``.

A broken plan surfaces as the plan's own message (file, field path, reason) in the DAG's import
error, not as a pydantic traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from include.launch.core.errors import PlanError
from include.launch.plan import Plan, load_plan
from include.launch.plan.loader import _resolve

if TYPE_CHECKING:
    from airflow.sdk import DAG


@lru_cache(maxsize=16)
def _plan(source: str) -> Plan:
    return load_plan(source)


def _render(plan: str, section: str, build: Callable[[Plan, Path], DAG]) -> DAG:
    """Load the plan and build; a broken plan or unknown id raises the plan's own short message."""
    try:
        return build(_plan(plan), _resolve(plan))
    except PlanError as exc:
        raise PlanError(exc.source, exc.problems) from None
    except KeyError as exc:
        raise PlanError(str(_resolve(plan)), [f"{section}: {exc.args[0]}"]) from None


def phase_dag(plan: str, phase_id: str) -> DAG:
    """Build the DAG of one phase of a plan (a shipped plan name or a path)."""
    from include.launch.engine.dagbuilder import build_phase_dag
    from include.launch.spec.phase import build_phase_spec

    return _render(plan, "phases", lambda loaded, path: build_phase_dag(build_phase_spec(loaded, phase_id, path)))


def scorecard_dag(plan: str, scorecard_id: str) -> DAG:
    """Build the daily DAG of one scorecard of a plan (a shipped plan name or a path)."""
    from include.launch.scorecard.dag import build_scorecard_dag
    from include.launch.spec.scorecard import build_scorecard_spec

    return _render(plan, "scorecards",
                   lambda loaded, path: build_scorecard_dag(build_scorecard_spec(loaded, scorecard_id, path)))


def beta_control_dag(plan: str, scorecard_id: str) -> DAG:
    """The launch's DAG that pauses or resumes the beta a scorecard watches."""
    from include.launch.scorecard.dag import build_beta_control_dag
    from include.launch.spec.scorecard import build_scorecard_spec

    return _render(plan, "scorecards",
                   lambda loaded, path: build_beta_control_dag(build_scorecard_spec(loaded, scorecard_id, path)))


def flag_expiry_dag(plan: str, scorecard_id: str) -> DAG:
    """The launch's scheduled DAG that turns off the beta's flags at their expiry."""
    from include.launch.scorecard.dag import build_flag_expiry_dag
    from include.launch.spec.scorecard import build_scorecard_spec

    return _render(plan, "scorecards",
                   lambda loaded, path: build_flag_expiry_dag(build_scorecard_spec(loaded, scorecard_id, path)))


def manual_rollback_dag(plan: str) -> DAG:
    """The launch's DAG that rolls a completed phase back by hand (``rollback.manual_by_role``)."""
    from include.launch.engine.manual_rollback import build_manual_rollback_dag

    return _render(plan, "phases", build_manual_rollback_dag)


def incident_dags(plan: str) -> list[DAG]:
    """The launch's incident escalation (scheduled), incident step (triggered, the form) and incident
    response (triggered, human in the loop) DAGs."""
    from include.launch.engine.incident_dags import build_escalation_dag, build_response_dag, build_step_dag

    return [_render(plan, "incidents", build) for build in (build_escalation_dag, build_step_dag, build_response_dag)]


def ledger_verification_dag(plan: str) -> DAG:
    """The launch's hourly verification of its ledger and signed checkpoints."""
    from include.launch.engine.ledger_verification import build_verification_dag

    return _render(plan, "phases", build_verification_dag)


def launch_dags(plan: str) -> dict[str, DAG]:
    """Every DAG of a plan by dag_id (phases, scorecards, the incident DAGs, the manual rollback when
    a phase allows one), for a DAG file that publishes a whole launch, such as the demo plan's."""
    loaded = _plan(plan)
    dags = [phase_dag(plan, phase.id) for phase in loaded.phases]
    dags += [scorecard_dag(plan, card.id) for card in loaded.scorecards]
    betas = [card.id for card in loaded.scorecards if _enrols_beta(loaded, card.phase)]
    dags += [build(plan, card) for card in betas for build in (beta_control_dag, flag_expiry_dag)]
    if any(phase.rollback is not None and phase.rollback.manual_by_role for phase in loaded.phases):
        dags.append(manual_rollback_dag(plan))
    dags += incident_dags(plan)
    dags.append(ledger_verification_dag(plan))
    return {dag.dag_id: dag for dag in dags}


def _enrols_beta(plan: Plan, phase_id: str) -> bool:
    change = plan.phase(phase_id).change
    return change is not None and change.kind == "beta_enrollment"
