"""What a plan's incident rules may say. Every action is either enforced by the engine or a duty the
report hands to people; ``plan check`` refuses any other words, so an action the engine cannot apply
never sits in a plan looking applied. A P0 is resolved only by the roles its rule names."""

from __future__ import annotations

from include.launch.core.vocabulary import Severity
from include.launch.plan.models import Approver, IncidentRule, Plan

STOP_ALL_CHANGES = "stop all changes"
PAUSE_NEW_USERS = "pause new users"

# Action (lower case) -> what the engine does about it.
ENFORCED = {
    STOP_ALL_CHANGES: "every change DAG of the launch refuses to start while it is open (rollbacks excepted)",
    PAUSE_NEW_USERS: "the beta enrols no new users while it is open",
    "notify everyone": "Slack, when it opens and at every step",
    "slack": "Slack, when it opens and at every step",
    "incident report": "a report from seed 000's template, written again at every step",
    "page on-call": "alerts of this severity route to the pager; unacknowledged past respond_within_minutes, the "
                    "engine pages",
    "roll back": "the phase's rollback triggers roll the change back",
    "automatic rollback to the stable version": "the canary's triggers roll back to the stable group",
}
# Actions for people: the report lists them; the engine does not pretend to do them.
DUTIES = frozenset({"investigate", "fix or roll back", "document"})


def rule_for(plan: Plan, severity: str) -> IncidentRule | None:
    return next((rule for rule in plan.incidents if rule.severity.value == severity), None)


def has_action(plan: Plan, severity: str, action: str) -> bool:
    rule = rule_for(plan, severity)
    return rule is not None and action in {a.lower() for a in rule.actions}


def _approvers(plan: Plan) -> list[Approver]:
    """Everyone the plan names: the approvers of every phase and of every freeze override."""
    named = [a for phase in plan.phases for a in phase.approval.approvers]
    return named + [a for window in plan.freeze_windows if window.override for a in window.override.approvers]


def everyone(plan: Plan) -> list[Approver]:
    """Everyone the plan names, once each, in plan order."""
    seen: dict[str, Approver] = {}
    for person in _approvers(plan):
        seen.setdefault(person.id, person)
    return list(seen.values())


def people(plan: Plan) -> set[str]:
    """The ids of everyone the plan names."""
    return {a.id for a in _approvers(plan)}


def held_roles(plan: Plan) -> set[str]:
    """Every role some person of the plan holds."""
    return {a.role for a in _approvers(plan) if a.role}


def roles_of(plan: Plan, user: str) -> set[str]:
    """Every role the plan gives ``user``."""
    return {a.role for a in _approvers(plan) if a.id == user and a.role}


def incident_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    held = held_roles(plan)
    seen: set[str] = set()
    for index, rule in enumerate(plan.incidents):
        where = f"incidents[{index}]"
        if rule.severity.value in seen:
            problems.append(f"{where}.severity: a second rule for {rule.severity.value}; one rule per severity")
        seen.add(rule.severity.value)
        for position, action in enumerate(rule.actions):
            if action.lower() not in ENFORCED and action.lower() not in DUTIES:
                problems.append(f"{where}.actions[{position}]: {action!r} is neither an action the engine enforces "
                                f"({', '.join(sorted(ENFORCED))}) nor a duty it hands to people "
                                f"({', '.join(sorted(DUTIES))})")
        for role in rule.resolved_by_roles:
            if role not in held:
                problems.append(f"{where}.resolved_by_roles: no approver of the plan holds role {role!r}")
        if rule.severity is Severity.P0 and not rule.resolved_by_roles:
            problems.append(f"{where}.resolved_by_roles: a P0 is resolved only by the roles the plan names; name "
                            "at least one")
    return problems
