"""What ``plan check`` demands of a beta that a daily scorecard watches: somebody the plan names may
pause it by hand and somebody may resume it, and one beta control DAG serves one beta."""

from __future__ import annotations

from pydantic import ValidationError

from include.launch.plan.incident_rules import held_roles
from include.launch.plan.models import Plan
from include.launch.plugins.changes.catalog import BetaEnrollmentParams


def beta_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    held = held_roles(plan)
    watched = {card.phase for card in plan.scorecards}
    betas = 0
    for index, phase in enumerate(plan.phases):
        if phase.change is None or phase.change.kind != "beta_enrollment" or phase.id not in watched:
            continue
        betas += 1
        try:
            params = BetaEnrollmentParams.model_validate(phase.change.params)
        except ValidationError:
            continue  # reported by the plug-in check
        where = f"phases[{index}].change.params"
        for field, action in (("pause_roles", "pause the beta by hand"), ("resume_roles", "resume a paused beta")):
            roles = getattr(params, field)
            if not roles:
                problems.append(f"{where}.{field}: name the roles that may {action}; a beta nobody can "
                                f"{action.split()[0]} is not under control")
            problems += [f"{where}.{field}: no approver of the plan holds role {role!r}" for role in roles
                         if role not in held]
        if betas > 1:
            problems.append(f"phases[{index}].change: a second beta watched by a scorecard; one beta control DAG "
                            "serves one beta per launch")
    return problems
