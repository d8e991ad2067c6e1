"""What ``plan check`` demands of a plan that changes the service's settings: a target profile that
says which settings a change may touch (seed 000's allowed changes) and where the service tells its
version, and no change that names a setting outside that list."""

from __future__ import annotations

from pydantic import ValidationError

from include.launch.plan.models import Plan
from include.launch.plugins.changes.catalog import SettingsChangeParams, settings_change_kinds

LOADS = frozenset({"synthetic_load"})  # check kinds that send the profile's routes
RELEASES = frozenset({"canary_traffic_shift"})  # change kinds that deploy a version
# Check kinds that act as the service's users, and what of target_profile.users each needs.
AS_USERS: dict[str, tuple[str, ...]] = {
    "load_test": ("load_identities_sql", "routes"),
    "http_expectation": ("identity_sql",),
    "chaos": ("identity_sql", "routes"),
}


def target_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    for index, phase in enumerate(plan.phases):
        version = plan.target_profile.version if plan.target_profile is not None else None
        if phase.change is not None and phase.change.kind in RELEASES and (
                version is None or not version.header or not version.setting):
            problems.append(f"phases[{index}].change: a {phase.change.kind!r} release needs target_profile.version."
                            "header (how a response tells its version) and .setting (what deploys one)")
        boards = plan.target_profile.monitoring.dashboards if plan.target_profile is not None else {}
        if phase.change is not None and phase.change.kind == "monitoring_install":
            named = phase.change.params.get("dashboards") or []
            problems += [f"phases[{index}].change.params.dashboards: {name!r} is not a dashboard of "
                         f"target_profile.monitoring.dashboards ({', '.join(sorted(boards)) or 'none'})"
                         for name in named if name not in boards]
        for group in ("pre_checks", "verify"):
            for position, check in enumerate(getattr(phase, group)):
                users = plan.target_profile.users if plan.target_profile is not None else None
                missing = [name for name in AS_USERS.get(check.kind, ()) if users is None or not getattr(users, name)]
                if missing:
                    problems.append(f"phases[{index}].{group}[{position}]: a {check.kind!r} check acts as the "
                                    f"service's users: it needs target_profile.users with {', '.join(missing)}")
                if check.kind in LOADS and (plan.target_profile is None or plan.target_profile.load is None):
                    problems.append(f"phases[{index}].{group}[{position}]: a {check.kind!r} check needs "
                                    "target_profile.load (the routes it sends)")
        if phase.change is None or phase.change.kind not in settings_change_kinds():
            continue
        where = f"phases[{index}].change"
        if plan.target_profile is None:
            problems.append(f"{where}: a {phase.change.kind!r} change needs target_profile (the settings a change may "
                            "touch and where the service tells its version)")
            continue
        try:
            params = SettingsChangeParams.model_validate(phase.change.params)
        except ValidationError:
            continue  # reported by the plug-in check
        allowed = plan.target_profile.settings
        readable = set(plan.target_profile.health.settings)
        for position, check in enumerate(phase.verify):
            if check.kind == "settings_applied" and not readable & set(params.settings):
                problems.append(f"phases[{index}].verify[{position}]: settings_applied can read back none of the "
                                f"changed settings ({', '.join(params.settings)}): name where the health endpoint "
                                "reports them in target_profile.health.settings")
        problems += [f"{where}.params.settings.{key}: not a setting the target profile lets a change touch "
                     f"(target_profile.settings: {', '.join(allowed) or 'none'})"
                     for key in params.settings if key not in allowed]
        problems += [f"{where}.params.settings: {problem}"
                     for problem in plan.target_profile.setting_problems(params.settings)]
    return problems


def profile_loosened(plan: Plan, base: Plan) -> list[str]:
    """What a plan written over another widens: settings the base does not let a change touch, and
    phases it turns into releases."""
    found: list[str] = []
    if plan.target_profile is not None:
        allowed = set(base.target_profile.settings) if base.target_profile else set()
        found += [f"target_profile.settings: lets a change touch {key!r}, which {base.launch.id!r} does not"
                  for key in plan.target_profile.settings if key not in allowed]
    for index, phase in enumerate(plan.phases):
        original = next((p for p in base.phases if p.id == phase.id), None)
        if original is not None and phase.release and not original.release:
            found.append(f"phases[{index}].release: lets the version move, which {base.launch.id!r} does not")
    return found
