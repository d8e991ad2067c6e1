"""The phase as one run sees it: the plan's change params with the trigger form's values, and the
success criteria whose thresholds follow those settings. Checks, the soak and the report read these,
so every step judges the same numbers."""

from __future__ import annotations

from typing import Any

from include.launch.core.criteria import Criterion
from include.launch.core.registry import Params
from include.launch.spec.phase import PhaseSpec


def change_params(spec: PhaseSpec, params: dict[str, Any]) -> Params | None:
    """The plan's change params with the trigger form's overrides, validated."""
    if spec.change_params is None:
        return None
    change = spec.change_params.with_overrides(params)
    profile = spec.plan.target_profile
    problems = profile.setting_problems(getattr(change, "settings", {})) if profile is not None else []
    if problems:
        raise ValueError("; ".join(problems))
    return change


def effective_criteria(spec: PhaseSpec, params: dict[str, Any]) -> list[Criterion]:
    """The phase's success criteria with thresholds tied to change settings resolved for this run."""
    change = change_params(spec, params)
    settings = getattr(change, "settings", {}) if change is not None else {}
    return [criterion.with_settings(settings) for criterion in spec.phase.success_criteria]
