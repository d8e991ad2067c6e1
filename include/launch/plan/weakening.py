"""Which values of a phase are weaker than another's: a shorter soak, sparser samples, a shorter
watch after a rollback, a smaller synthetic load. ``plan check`` uses it on a plan that extends
another; include.launch.spec.weakened uses it on a run's trigger form."""

from __future__ import annotations

from typing import Any

from include.launch.plan.models import Phase

Limit = tuple[str, float, str]  # (trigger-form field, the plan's value, the direction that is weaker)
# Where each trigger-form field's value sits in a plan (named in plan check's refusals).
PLAN_FIELD = {
    "monitor_minutes": "soak.window_minutes",
    "sample_interval_seconds": "soak.interval_seconds",
    "rollback_watch_minutes": "rollback.watch_minutes",
    "synthetic_requests": "verify.synthetic_load.requests",
    "concurrency": "verify.synthetic_load.concurrency",
}


def planned_limits(phase: Phase) -> list[Limit]:
    """The phase's values a form or an extending plan could weaken, by trigger-form field."""
    from include.launch.plugins.checks.catalog import SyntheticLoadParams

    limits: list[Limit] = []
    if phase.soak is not None and phase.change is not None:
        limits += [("monitor_minutes", phase.soak.window_minutes, "<"),
                   ("sample_interval_seconds", phase.soak.interval_seconds, ">")]
    if phase.rollback is not None:
        limits.append(("rollback_watch_minutes", phase.rollback.watch_minutes, "<"))
    for check in phase.verify:
        if check.kind == "synthetic_load":
            load = SyntheticLoadParams.model_validate(check.params)
            limits += [("synthetic_requests", load.requests, "<"), ("concurrency", load.concurrency, "<")]
    return limits


def weaker(limits: list[Limit], values: dict[str, Any], whose: str, names: dict[str, str] | None = None) -> list[str]:
    found = []
    for name, planned, weaker in limits:
        try:
            given = float(values[name])
        except (KeyError, TypeError, ValueError):
            continue
        if (given < planned) if weaker == "<" else (given > planned):
            found.append(f"{(names or {}).get(name, name)} {given:g} {weaker} {whose} {float(planned):g}")
    return found


def weakened_against(base: Phase, phase: Phase, base_name: str) -> list[str]:
    """Each of ``phase``'s own values weaker than the phase it overrides in ``base_name``."""
    values = {name: value for name, value, _ in planned_limits(phase)}
    return weaker(planned_limits(base), values, f"{base_name}'s", PLAN_FIELD)
