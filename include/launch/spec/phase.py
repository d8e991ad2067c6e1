"""The plain spec between a plan and Airflow: which tasks a phase DAG has, in which group.

Rendering (include.launch.engine.dagbuilder) turns a PhaseSpec into operators; everything here is plain
data, so the shape of every phase is tested without Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.launch.core.registry import Params
from include.launch.plan.models import Phase, Plan, PluginSpec
from include.launch.plugins.changes import CHANGES
from include.launch.plugins.checks import CHECKS

PRE_CHECKS = "pre_checks"
VERIFY = "verify"
BUILTIN_GATES = ("phase_order", "freeze_window")


@dataclass(frozen=True)
class CheckTask:
    """One check task: its id inside its group, the registered kind and validated params."""

    group: str
    name: str
    kind: str
    params: Params
    summary: str
    when_unavailable: str = "fail"

    @property
    def task_id(self) -> str:
        return f"{self.group}.{self.name}"


@dataclass(frozen=True)
class PhaseSpec:
    """Everything the renderer needs for one phase DAG."""

    plan_path: str
    plan: Plan
    phase: Phase
    pre_checks: list[CheckTask]
    verify: list[CheckTask]
    change_params: Params | None
    trigger_params: dict[str, Any] = field(default_factory=dict)

    @property
    def dag_id(self) -> str:
        return self.phase.dag_id

    @property
    def launch_id(self) -> str:
        return self.plan.launch.id

    @property
    def tags(self) -> list[str]:
        return ["launch", self.launch_id, self.phase.id, f"risk:{self.phase.risk.value.lower()}"]

    @property
    def has_change(self) -> bool:
        return self.phase.change is not None

    @property
    def has_soak(self) -> bool:
        return self.phase.soak is not None and self.has_change


def _check_tasks(group: str, specs: list[PluginSpec]) -> list[CheckTask]:
    tasks = []
    for spec in specs:
        kind = CHECKS.get(spec.kind)
        tasks.append(CheckTask(group, spec.task_name, spec.kind, spec.typed_params(CHECKS), kind.summary,
                               spec.when_unavailable))
    return tasks


def build_phase_spec(plan: Plan, phase_id: str, plan_path: str | Path) -> PhaseSpec:
    phase = plan.phase(phase_id)
    change_params = phase.change.typed_params(CHANGES) if phase.change else None
    trigger: dict[str, Any] = {"dry_run": False}
    if phase.soak is not None:
        trigger["monitor_minutes"] = phase.soak.window_minutes
        trigger["sample_interval_seconds"] = phase.soak.interval_seconds
    return PhaseSpec(
        plan_path=str(plan_path),
        plan=plan,
        phase=phase,
        pre_checks=_check_tasks(PRE_CHECKS, phase.pre_checks),
        verify=_check_tasks(VERIFY, phase.verify),
        change_params=change_params,
        trigger_params=trigger,
    )
