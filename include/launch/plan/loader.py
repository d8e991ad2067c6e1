"""Load a plan file and report every problem with the file, the field path and the reason.

Two passes: the pydantic models check shapes and ranges; ``semantic_problems`` checks what spans
fields (phase order, plug-in params against their registry, rollback triggers against success
criteria). All problems are collected, so a user fixes a plan in one round, not ten.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from include.launch.core.criteria import Criterion, RollbackTrigger
from include.launch.core.errors import ConfigurationError, PlanError
from include.launch.core.registry import Registry
from include.launch.plan.models import Phase, Plan, PluginSpec
from include.launch.plugins.changes import CHANGES
from include.launch.plugins.checks import CHECKS
from include.launch.plugins.metrics import SOURCES
from include.launch.plugins.metrics.catalog import ENGINE_DERIVED, NOT_WATCHED_AFTER_ROLLBACK, provided_by

PLANS_DIR = Path(__file__).resolve().parents[2] / "plans"
# libyaml's safe loader parses a plan ~10x faster than the pure-Python one: DAG files load plans.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_plan(source: str | Path) -> Plan:
    """Load and validate a plan; raise PlanError listing every problem."""
    path = _resolve(source)
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(label, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(label, [f"cannot be read: {exc}"]) from None
    return parse_plan(text, label)


def parse_plan(text: str, label: str = "<plan>") -> Plan:
    data, base = _merged(text, label, ())
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(label, format_validation_errors(exc)) from None
    problems = semantic_problems(plan)
    if base is not None:
        problems += extension_problems(plan, base)
    if problems:
        raise PlanError(label, problems)
    return plan


def _mapping(text: str, label: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise PlanError(label, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if not isinstance(data, dict):
        raise PlanError(label, [f"top level must be a mapping of sections, got {type(data).__name__}"])
    return data


def _merged(text: str, label: str, seen: tuple[str, ...]) -> tuple[dict[str, Any], Plan | None]:
    """The plan's mapping over the one it ``extends`` (recursively), and the base plan itself."""
    data = _mapping(text, label)
    name = data.get("extends")
    if name is None:
        return data, None
    if not isinstance(name, str) or not name:
        raise PlanError(label, [f"extends: must name a plan (a shipped plan's name or a path), got {_short(name)}"])
    path = _resolve(name) if _resolve(name).exists() else Path(label).parent / name
    if str(path.resolve()) in seen:
        raise PlanError(label, [f"extends: {name!r} extends this plan again (a cycle)"])
    try:
        base_text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(label, [f"extends: plan {name!r} cannot be read ({exc.__class__.__name__}: {path})"]) from None
    base_data, _ = _merged(base_text, str(path), (*seen, str(path.resolve())))
    return merge(base_data, data), parse_plan(base_text, str(path))


def merge(base: Any, override: Any) -> Any:
    """``override`` over ``base``: mappings key by key, lists of mappings with an ``id`` entry by
    entry (unknown ids appended), anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{key: merge(base[key], value) if key in base else value for key, value in override.items()}}
    if (isinstance(base, list) and isinstance(override, list) and base
            and all(isinstance(item, dict) and "id" in item for item in [*base, *override])):
        changes = {item["id"]: item for item in override}
        merged = [merge(item, changes.pop(item["id"])) if item["id"] in changes else item for item in base]
        return merged + [item for item in override if item["id"] in changes]
    return override


def extension_problems(plan: Plan, base: Plan) -> list[str]:
    """A plan written over another may weaken its windows and load, or drop and loosen its rules,
    only when marked ``mode: demo``; the demo-only allowances are refused everywhere else."""
    from include.launch.plan.target_rules import profile_loosened
    from include.launch.plan.weakening import loosened_against, scorecard_loosened, weakened_against

    if plan.mode == "demo":
        return []
    found: list[str] = profile_loosened(plan, base)
    for index, phase in enumerate(plan.phases):
        original = next((p for p in base.phases if p.id == phase.id), None)
        if original is not None:
            found += [f"phases[{index}]: {problem}" for problem in
                      weakened_against(original, phase, base.launch.id) + loosened_against(original, phase,
                                                                                            base.launch.id)]
    for index, card in enumerate(plan.scorecards):
        original_card = next((c for c in base.scorecards if c.id == card.id), None)
        if original_card is not None:
            found += [f"scorecards[{index}]: {problem}"
                      for problem in scorecard_loosened(original_card, card, base.launch.id)]
    return [f"{problem}; only a plan marked mode: demo may weaken the plan it extends" for problem in found]


def _resolve(source: str | Path) -> Path:
    """A bare name such as ``accubooks`` means the shipped plan of that name."""
    path = Path(source)
    if not path.suffix and not path.exists():
        return PLANS_DIR / f"{path.name}.yaml"
    return path


def format_validation_errors(exc: ValidationError, prefix: str = "") -> list[str]:
    messages = []
    for error in exc.errors():
        path = join_path(prefix, error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; the models list every allowed key)"
        elif error["type"] not in ("value_error", "missing") and "input" in error:
            message = f"{message} (got {_short(error['input'])})"
        messages.append(f"{path or '<plan>'}: {message}")
    return messages


def join_path(prefix: str, loc: Iterable[Any]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def semantic_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    seen_dags: set[str] = set()
    for index, phase in enumerate(plan.phases):
        where = f"phases[{index}]"
        if phase.id in seen_ids:
            problems.append(f"{where}.id: duplicate phase id {phase.id!r} (also phases[{seen_ids[phase.id]}])")
        if phase.dag_id in seen_dags:
            problems.append(f"{where}.dag_id: duplicate dag_id {phase.dag_id!r}")
        if phase.requires is not None and phase.requires not in seen_ids:
            earlier = ", ".join(seen_ids) or "none"
            problems.append(f"{where}.requires: {phase.requires!r} is not an earlier phase (earlier: {earlier})")
        seen_ids[phase.id] = index
        seen_dags.add(phase.dag_id)
        problems.extend(_phase_problems(where, phase, plan))
    watched = [f"phases[{i}]" for i, phase in enumerate(plan.phases) if phase.rollback is not None]
    if watched and not plan.connections.pager:
        problems.append(f"connections.pager: {', '.join(watched)} roll back and watch the service after it; a breach "
                        "in that watch pages the on-call engineer, so the plan must name its pager connection")
    names = [window.name for window in plan.freeze_windows]
    for index, name in enumerate(names):
        if name in names[:index]:  # an override row names its window: two windows must not share a name
            problems.append(f"freeze_windows[{index}].name: duplicate freeze window name {name!r}")
    for index, card in enumerate(plan.scorecards):
        if card.phase not in seen_ids:
            problems.append(f"scorecards[{index}].phase: {card.phase!r} is not a phase of this plan")
        if card.dag_id in seen_dags:
            problems.append(f"scorecards[{index}].dag_id: duplicate dag_id {card.dag_id!r}")
        seen_dags.add(card.dag_id)
        for group in ("criteria", "weekly_criteria"):
            for position, criterion in enumerate(getattr(card, group)):
                if criterion.when is not None:
                    problems.append(f"scorecards[{index}].{group}[{position}].when: a scorecard judges each day's "
                                    "value as it is; a condition is applied only by checks, the soak and the canary")
    from include.launch.plan.beta_rules import beta_problems
    from include.launch.plan.incident_rules import incident_problems
    from include.launch.plan.review_rules import review_problems
    from include.launch.plan.target_rules import target_problems

    problems += target_problems(plan)
    problems += incident_problems(plan)
    problems += review_problems(plan)
    problems += beta_problems(plan)
    if plan.mode != "demo":
        problems += [f"phases[{i}].{group}[{k}].params.replay_allowed: accepting a replayed beta is a demo allowance; "
                     "only a plan marked mode: demo may set it"
                     for i, phase in enumerate(plan.phases) for group in ("pre_checks", "verify")
                     for k, check in enumerate(getattr(phase, group))
                     if check.kind == "beta_elapsed" and check.params.get("replay_allowed")]
    return problems


def _phase_problems(where: str, phase: Phase, plan: Plan) -> list[str]:
    problems: list[str] = []
    task_names: set[str] = set()
    groups: list[tuple[str, list[PluginSpec], Registry]] = [
        ("pre_checks", phase.pre_checks, CHECKS),
        ("verify", phase.verify, CHECKS),
    ]
    groups.append(("metric_sources", phase.metric_sources, SOURCES))
    if phase.change is not None:
        groups.append(("change", [phase.change], CHANGES))
        if phase.change.when_unavailable != "fail":
            problems.append(f"{where}.change.when_unavailable: only a check may be not applicable; a change that "
                            "cannot reach its target fails")
    for group, specs, registry in groups:
        for position, spec in enumerate(specs):
            spot = f"{where}.{group}" if group == "change" else f"{where}.{group}[{position}]"
            problems.extend(_plugin_problems(spot, spec, registry))
            key = f"{group}.{spec.task_name}"
            if key in task_names:
                problems.append(f"{spot}.name: duplicate task name {spec.task_name!r} in {group}; set a distinct name")
            task_names.add(key)
    for position, trigger in enumerate(phase.rollback_triggers):
        problem = _trigger_conflict(trigger, phase.success_criteria)
        if problem:
            problems.append(f"{where}.rollback_triggers[{position}]: {problem}")
    role = phase.rollback.manual_by_role if phase.rollback is not None else ""
    if role and phase.change is None:
        problems.append(f"{where}.rollback.manual_by_role: the phase changes nothing, so nothing can be rolled back")
    if role and role not in {approver.role for approver in phase.approval.approvers}:
        problems.append(f"{where}.rollback.manual_by_role: no approver of this phase holds role {role!r}")
    duties = {a.id for r in phase.approval.signoff_roles or [""] for a in phase.approval.answerers(r)}
    idle = [a for a in phase.approval.approvers if a.id not in duties and not (role and a.role == role)]
    for approver in idle:
        problems.append(f"{where}.approval.approvers: {approver.id} ({approver.role or 'no role'}) is never asked and "
                        f"rolls nothing back (required_roles {phase.approval.required_roles}); remove them or give "
                        "them a duty")
    problems.extend(_rollback_problems(where, phase))
    problems.extend(_coverage_problems(where, phase, plan))
    if phase.change is not None and phase.rollback_triggers and phase.rollback is None:
        problems.append(f"{where}.rollback: required when a phase has a change and rollback triggers")
    if phase.soak is not None and not (phase.success_criteria or phase.rollback_triggers):
        problems.append(f"{where}.soak: a soak needs success_criteria or rollback_triggers to evaluate")
    return problems


def _coverage_problems(where: str, phase: Phase, plan: Plan) -> list[str]:
    """Every metric the soak or a metric gate of this phase judges must come from one of its sources
    (what the target profile computes: from a scrape, or in PromQL)."""
    provided = set(ENGINE_DERIVED)
    for source in phase.metric_sources:
        if source.when_unavailable != "fail":
            return [f"{where}.metric_sources: when_unavailable belongs to checks; a source that cannot be read "
                    "makes its sample an error"]
        try:
            provided |= provided_by(source.kind, source.typed_params(SOURCES), plan.scraped_metrics(),
                                    plan.promql_metrics())
        except (ConfigurationError, ValidationError):
            return []  # the source itself is refused above, with its path
    kinds = ", ".join(source.kind for source in phase.metric_sources)
    judged: list[tuple[str, Criterion]] = []
    if phase.soak is not None:
        judged += [(f"rollback_triggers[{i}]", trigger) for i, trigger in enumerate(phase.rollback_triggers)]
        judged += [(f"success_criteria[{i}]", criterion) for i, criterion in enumerate(phase.success_criteria)]
    for group in ("pre_checks", "verify"):
        for position, check in enumerate(getattr(phase, group)):
            if check.kind == "metric_gate":
                try:
                    criteria = check.typed_params(CHECKS).criteria  # type: ignore[attr-defined]
                except (ConfigurationError, ValidationError):
                    continue  # the check's params are refused above, with their path
                judged += [(f"{group}[{position}].params.criteria[{i}]", c) for i, c in enumerate(criteria)]
    problems = []
    for spot, criterion in judged:
        needed = [criterion.metric.value] + ([criterion.when.metric.value] if criterion.when else [])
        for metric in needed:
            if metric not in provided:
                problems.append(f"{where}.{spot}: no metric source of this phase provides {metric!r} (sources: "
                                f"{kinds}); add one to metric_sources")
    return problems


def _rollback_problems(where: str, phase: Phase) -> list[str]:
    """Rollback settings the engine applies, or a refusal naming the one it cannot."""
    from include.launch.plugins.changes.catalog import ROLLBACK_KINDS

    problems: list[str] = []
    rollback = phase.rollback
    if rollback is not None and rollback.needs_approval:
        problems.append(f"{where}.rollback.needs_approval: an automatic rollback never waits for a person (the "
                        "documents: no approval needed), and a manual rollback is taken by manual_by_role alone")
    if rollback is not None and phase.change is not None:
        performs = ROLLBACK_KINDS.get(phase.change.kind)
        if performs is not None and rollback.kind != performs:
            problems.append(f"{where}.rollback.kind: {rollback.kind!r} is not what a {phase.change.kind!r} change "
                            f"does when it rolls back ({performs!r})")
    if phase.soak is not None:
        measured = {criterion.metric for criterion in phase.success_criteria}
        for position, metric in enumerate(phase.soak.judged_at_end):
            if metric not in measured:
                problems.append(f"{where}.soak.judged_at_end[{position}]: no success criterion of this phase "
                                f"measures {metric.value!r}")
        for position, trigger in enumerate(phase.rollback_triggers):
            if trigger.sustained_minutes > phase.soak.window_minutes:
                problems.append(f"{where}.rollback_triggers[{position}]: sustained {trigger.sustained_minutes:g} min "
                                f"is longer than the soak window ({phase.soak.window_minutes:g} min), so "
                                f"'{trigger}' could never fire")
    if rollback is not None and phase.change is not None:
        if not watched_triggers(phase.rollback_triggers):
            problems.append(f"{where}.rollback.watch_minutes: no rollback trigger of this phase can judge the watch "
                            "after a rollback (open incidents do not: the rollback's own is open); add one")
        for position, trigger in enumerate(watched_triggers(phase.rollback_triggers)):
            if trigger.sustained_minutes > rollback.watch_minutes:
                problems.append(f"{where}.rollback_triggers[{position}]: sustained {trigger.sustained_minutes:g} min "
                                f"is longer than rollback.watch_minutes ({rollback.watch_minutes:g}), so the watch "
                                f"after a rollback could never see '{trigger}' fire")
    return problems


def watched_triggers(triggers: list[RollbackTrigger]) -> list[RollbackTrigger]:
    """The triggers the watch after a rollback judges (see ``engine.rollback_watch``)."""
    return [trigger for trigger in triggers if trigger.metric.value not in NOT_WATCHED_AFTER_ROLLBACK]


def _plugin_problems(spot: str, spec: PluginSpec, registry: Registry) -> list[str]:
    try:
        kind = registry.get(spec.kind)
    except ConfigurationError as exc:
        return [f"{spot}.kind: {exc}"]
    try:
        kind.params_model.model_validate(spec.params)
    except ValidationError as exc:
        return format_validation_errors(exc, prefix=f"{spot}.params")
    return []


def _trigger_conflict(trigger: RollbackTrigger, criteria: list[Criterion]) -> str | None:
    """A rollback trigger must never fire while its metric still meets its success criterion."""
    for criterion in criteria:
        if criterion.metric != trigger.metric:
            continue
        same_side = (criterion.op.is_upper_bound and trigger.op.is_upper_bound) or (
            criterion.op.is_lower_bound and trigger.op.is_lower_bound
        )
        inside = (criterion.op.is_upper_bound and trigger.threshold < criterion.threshold) or (
            criterion.op.is_lower_bound and trigger.threshold > criterion.threshold
        )
        if same_side or inside:
            return (
                f"'{trigger}' would roll back while the success criterion '{criterion}' still holds; "
                f"a rollback threshold must lie at or beyond the success threshold, on the failing side"
            )
    return None
