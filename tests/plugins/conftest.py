"""Launches for the board's tests: a phase of the AccuBooks plan cut down to its approval, run by the
real phase engine (phase gate, built-in pre-checks, the launch approval, complete), so the board
reads the same ledger rows and Required Actions a real run produces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.harness.phase import build_variant

PHASE = "phase1_pool_scaling"


def approval_only(plan: dict[str, Any]) -> None:
    """Phase 1 without target checks, change or soak: gate -> built-in checks -> approve -> complete.
    With no rollback, an approver only there for the manual rollback has no duty: the plan check
    refuses such an approver, so only those holding a required role stay."""
    for phase in plan["phases"]:
        if phase["id"] == PHASE:
            for key in ("pre_checks", "verify", "success_criteria", "rollback_triggers", "evidence_files"):
                phase[key] = []
            for key in ("change", "soak", "rollback"):
                phase.pop(key, None)
            approval = phase["approval"]
            if approval.get("required_roles"):
                approval["approvers"] = [a for a in approval["approvers"] if a["role"] in approval["required_roles"]]
    held = {a["role"] for phase in plan["phases"] for a in phase["approval"]["approvers"]}
    held |= {a["role"] for window in plan.get("freeze_windows", []) for a in (window.get("override") or {}).get(
        "approvers", [])}
    for rule in plan.get("incidents", []):  # a role nobody holds any more may not resolve a P0 (plan check)
        if "resolved_by_roles" in rule:
            rule["resolved_by_roles"] = [role for role in rule["resolved_by_roles"] if role in held]
    for phase in plan["phases"]:  # nor pause the beta: the executive does
        params = (phase.get("change") or {}).get("params", {})
        for key in ("pause_roles", "resume_roles"):
            if key in params:
                params[key] = [role for role in params[key] if role in held] or ["Executive"]


def variant_plan_file(dag: Any) -> Path:
    """The plan file build_variant wrote for this DAG (its dag id ends with the variant's suffix)."""
    suffix = "_".join(dag.dag_id.split("_")[-2:])
    path = Path(os.environ["AIRFLOW_HOME"]) / "scratch_dags" / f"plan_{suffix}.yaml"
    assert path.is_file(), path
    return path


@pytest.fixture()
def approval_phase(monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> tuple[Any, Path]:
    """(the DAG, its plan file); the board shows that plan only."""
    dag = build_variant("accubooks", PHASE, approval_only)
    plan_file = variant_plan_file(dag)
    monkeypatch.setenv("LAUNCH_BOARD_PLANS", str(plan_file))
    return dag, plan_file
