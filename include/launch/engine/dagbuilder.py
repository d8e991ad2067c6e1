"""Render a PhaseSpec into an Airflow DAG of the one fixed shape:

    phase_gate -> pre_checks -> [freeze_override] -> approve -> snapshot_before -> apply_change -> verify
               -> sustained_monitor -> complete
    rollback (after any failure from apply_change on; then fails the run)
    release_lock (teardown of phase_gate: a failed run never leaves the launch locked)

A plan whose approval declares ``options`` gets ``propose -> approve`` where ``approve`` is a
decision among those options (include.launch.engine.decision).
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, TriggerRule, task, task_group

from include.launch.engine.approval import LaunchApprovalOperator
from include.launch.engine.callbacks import dag_failure_callback, task_failure_callback
from include.launch.spec.phase import BUILTIN_GATES, PRE_CHECKS, VERIFY, CheckTask, PhaseSpec
from include.launch.spec.trigger_form import trigger_form

DEFAULT_RETRIES = 1


def phase_asset(spec: PhaseSpec) -> Asset:
    """Marks a phase done; the next phase and dashboards can watch it."""
    return Asset(name=f"{spec.launch_id}.{spec.phase.id}.completed")


def _step(name: str, spec: PhaseSpec) -> Any:
    """A task callable that imports the step only when it runs (psycopg and friends stay off parse)."""

    def run(**context: Any) -> Any:
        from include.launch.engine import steps

        return getattr(steps, name)(spec, context)

    run.__name__ = name
    return run


def build_phase_dag(spec: PhaseSpec) -> DAG:
    from include.launch.engine.soak import SustainedMonitorOperator

    phase = spec.phase
    with DAG(
        dag_id=spec.dag_id,
        description=f"{spec.plan.launch.name}: {phase.title} (risk {phase.risk.value})",
        schedule=None,
        catchup=False,
        max_active_runs=1,
        tags=spec.tags,
        params=trigger_form(spec),
        default_args={
            "owner": spec.plan.launch.owner,
            "retries": DEFAULT_RETRIES,
            "retry_delay": timedelta(seconds=10),
            "on_failure_callback": task_failure_callback(spec),
        },
        on_failure_callback=dag_failure_callback(spec),
        doc_md=f"### {phase.title}\n\nRisk {phase.risk.value}; about {phase.estimated_minutes:g} minutes. "
               f"Plan `{spec.plan_path}`, phase `{phase.id}`.",
        render_template_as_native_obj=False,
    ) as dag:
        gate = task(task_id="phase_gate", retries=0)(_step("phase_gate", spec))()

        @task_group(group_id=PRE_CHECKS)
        def pre_checks() -> None:
            for name in BUILTIN_GATES:
                task(task_id=name)(_builtin(spec, name))()
            for check in spec.pre_checks:
                task(task_id=check.name)(_check(spec, check))()

        approvals = _freeze_overrides(spec) + _approvals(spec)
        release = task(task_id="release_lock", retries=3)(_step("release_lock", spec))()

        chain_start = gate >> pre_checks() >> approvals[0]
        for earlier, later in itertools.pairwise(approvals):
            earlier >> later
        last_approval = approvals[-1]

        complete = task(task_id="complete", outlets=[phase_asset(spec)], retries=0)(
            _step("complete", spec))()

        if spec.has_change:
            snapshot = task(task_id="snapshot_before")(_step("snapshot_before", spec))()
            apply = task(task_id="apply_change", retries=0)(_step("apply_change", spec))()
            after_change: list[Any] = [apply]
            tail: Any = apply
            if spec.verify:
                @task_group(group_id=VERIFY)
                def verify() -> None:
                    for check in spec.verify:
                        task(task_id=check.name, retries=0)(_check(spec, check))()

                verified = verify()
                tail >> verified
                after_change.append(verified)
                tail = verified
            if spec.has_soak:
                monitor = SustainedMonitorOperator(task_id="sustained_monitor", spec=spec)
                tail >> monitor
                after_change.append(monitor)
                tail = monitor
            last_approval >> snapshot >> apply
            tail >> complete
            rollback = task(task_id="rollback", trigger_rule=TriggerRule.ONE_FAILED, retries=0)(
                _step("rollback", spec))()
            after_change >> rollback
            [complete, rollback] >> release
        else:
            last_approval >> complete
            complete >> release
        # A teardown runs whenever its setup succeeded, and never decides the run's state.
        release.as_teardown(setups=gate)  # type: ignore[arg-type]  # XComArg resolves to its operator
        _ = chain_start
    return dag


def _builtin(spec: PhaseSpec, name: str) -> Any:
    def run(**context: Any) -> dict[str, Any]:
        from include.launch.engine import steps

        return steps.run_builtin_check(spec, name, context)

    run.__name__ = name
    return run


def _check(spec: PhaseSpec, check: CheckTask) -> Any:
    def run(**context: Any) -> dict[str, Any]:
        from include.launch.engine import steps

        return steps.run_check(spec, check, context)

    run.__name__ = check.name
    return run


def _freeze_overrides(spec: PhaseSpec) -> list[Any]:
    """``freeze_override`` (and ``freeze_override_second``) before the approval, when a window allows one."""
    from include.launch.engine.freeze_override import SECOND_TASK, FreezeOverrideOperator, override_task_ids

    return [FreezeOverrideOperator(task_id=task_id, spec=spec, second=task_id == SECOND_TASK, retries=0)
            for task_id in override_task_ids(spec)]


def _approvals(spec: PhaseSpec) -> list[Any]:
    if spec.phase.approval.options:  # a decision: propose -> choose among the plan's options
        from include.launch.engine.decision import decision_tasks

        return decision_tasks(spec, next_task_id="snapshot_before" if spec.has_change else "complete")
    roles = spec.phase.approval.signoff_roles
    if not roles:
        return [LaunchApprovalOperator(task_id="approve", spec=spec, retries=0)]
    return [LaunchApprovalOperator(task_id=f"approve_{_slug(role)}", spec=spec, role=role, retries=0)
            for role in roles]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")
