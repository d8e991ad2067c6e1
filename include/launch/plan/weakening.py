"""Which values of a phase are weaker than another's: a shorter soak, sparser samples, a shorter
watch after a rollback, a smaller synthetic load (``plan check`` on a plan that extends another, and
include.launch.spec.weakened on a run's trigger form); and which rules a plan written over another
drops or loosens: criteria, triggers, checks, the approval (``plan check`` only)."""

from __future__ import annotations

from typing import Any

from include.launch.core.criteria import Criterion, RollbackTrigger
from include.launch.core.vocabulary import Comparison
from include.launch.plan.models import Approval, Phase, PluginSpec, Scorecard

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


def _admits_more(op: Comparison, given: float, planned: float) -> bool:
    """``metric op given`` holds for more measurements than ``metric op planned``."""
    if op in (Comparison.LT, Comparison.LE):
        return given > planned
    if op in (Comparison.GT, Comparison.GE):
        return given < planned
    return given != planned


def _judged(rule: Criterion) -> str:
    return f"only when {rule.when}" if rule.when is not None else "always"


def _rules_loosened(field: str, base: list[Criterion], rules: list[Criterion], whose: str,
                    fires: bool) -> list[str]:
    """Each rule of ``base`` (by metric and comparison) missing from ``rules`` or looser there. A
    success criterion is looser when it holds for more values; a rollback trigger (``fires``) when it
    holds for fewer, or must last longer before it rolls back, or raises a lower severity."""
    found = []
    for planned in base:
        twin = next((r for r in rules if (r.metric, r.op) == (planned.metric, planned.op)), None)
        if twin is None:
            found.append(f"{field}: {whose} {planned} is missing")
            continue
        looser = _admits_more(planned.op, twin.threshold, planned.threshold)
        if (looser if not fires else _admits_more(planned.op, planned.threshold, twin.threshold)) or \
                twin.from_setting != planned.from_setting:
            found.append(f"{field}: {twin} is looser than {whose} {planned}")
        if str(twin.when) != str(planned.when):
            found.append(f"{field}: {twin} is judged {_judged(twin)}, {whose} {_judged(planned)}")
        if isinstance(twin, RollbackTrigger) and isinstance(planned, RollbackTrigger):
            if twin.sustained_minutes > planned.sustained_minutes:
                found.append(f"{field}: {twin} sustained {twin.sustained_minutes:g} min > {whose} "
                             f"{planned.sustained_minutes:g} min")
            if int(twin.severity.value[1:]) > int(planned.severity.value[1:]):
                found.append(f"{field}: {twin} raises {twin.severity.value}, {whose} {planned.severity.value}")
    return found


def _checks_dropped(field: str, base: list[PluginSpec], checks: list[PluginSpec], whose: str) -> list[str]:
    """Each check of ``base`` (by kind and name) missing from ``checks``, or allowed to be not applicable."""
    found = []
    for planned in base:
        label = planned.name or planned.kind
        twin = next((c for c in checks if (c.kind, c.name) == (planned.kind, planned.name)), None)
        if twin is None:
            found.append(f"{field}: {whose} check {label} is missing")
        elif twin.when_unavailable != planned.when_unavailable:
            found.append(f"{field}: {label} when_unavailable {twin.when_unavailable}, "
                         f"{whose} {planned.when_unavailable}")
    return found


def _approval_loosened(base: Approval, approval: Approval, whose: str) -> list[str]:
    found = []
    if base.four_eyes and not approval.four_eyes:
        found.append(f"approval.four_eyes false, {whose} true")
    if approval.comment_min_chars < base.comment_min_chars:
        found.append(f"approval.comment_min_chars {approval.comment_min_chars} < {whose} {base.comment_min_chars}")
    for field in ("required_roles", "signoff_roles"):
        dropped = sorted(set(getattr(base, field)) - set(getattr(approval, field)))
        if dropped:
            found.append(f"approval.{field} drops {', '.join(dropped)} ({whose} requires them)")
    return found


def loosened_against(base: Phase, phase: Phase, base_name: str) -> list[str]:
    """Each rule of ``base`` that ``phase`` drops or loosens: success criteria, rollback triggers,
    checks, the approval's demands."""
    whose = f"{base_name}'s"
    return (_rules_loosened("success_criteria", list(base.success_criteria), list(phase.success_criteria), whose,
                            fires=False)
            + _rules_loosened("rollback_triggers", list(base.rollback_triggers), list(phase.rollback_triggers),
                              whose, fires=True)
            + _checks_dropped("pre_checks", base.pre_checks, phase.pre_checks, whose)
            + _checks_dropped("verify", base.verify, phase.verify, whose)
            + _approval_loosened(base.approval, phase.approval, whose))


def scorecard_loosened(base: Scorecard, card: Scorecard, base_name: str) -> list[str]:
    """A scorecard's daily and weekly criteria, each kept and no looser than ``base``'s."""
    whose = f"{base_name}'s"
    return (_rules_loosened("criteria", list(base.criteria), list(card.criteria), whose, fires=False)
            + _rules_loosened("weekly_criteria", list(base.weekly_criteria), list(card.weekly_criteria), whose,
                              fires=False)
            + ([f"days {card.days} < {whose} {base.days}"] if card.days < base.days else []))
