"""The ledger, not task state, decides whether a change may act and whether a phase is complete.

Airflow lets anyone allowed to edit task instances mark a waiting approval, a failed check or a
running soak "success", and the downstream tasks then run. So the steps that act
(``snapshot_before``, ``apply_change``) and ``complete`` first read this run's ledger rows and
require what every gate must have written there:

- every pre-check's latest result successful (or not applicable, as the check itself decided);
- the approvals the plan demands, each by a person the plan names for it, none by the triggering
  user when four-eyes holds, each sign-off role by a different person, all answered after the
  pre-checks;
- a freeze override, granted by the window's approvers, wherever the freeze pre-check asked for one;
- before completion: the change applied, every verification's latest result, the soak's verdict.

Pure functions of the plan and the rows: each requirement is tested without Airflow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from include.launch.spec.phase import BUILTIN_GATES, PRE_CHECKS, VERIFY, PhaseSpec

PASSING = ("successful", "not_applicable")
ANSWER_FORM = ("comment",)  # an approval task's own form field, merged into its params: not the trigger form
REFUSED = "gate_bypass_refused"
ANSWERS = ("approval_given", "decision_given")  # what an approver said yes (or decided) with


def _latest_results(rows: list[Any], group: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for row in rows:
        if row.event == "check_result" and row.task_id.startswith(f"{group}."):
            results[row.task_id.split(".", 1)[1]] = row
    return results


def _check_problems(rows: list[Any], group: str, names: list[str]) -> list[str]:
    results = _latest_results(rows, group)
    problems = []
    for name in names:
        row = results.get(name)
        if row is None:
            problems.append(f"{group}.{name}: no result in the ledger (the task did not run its check)")
        elif row.outcome not in PASSING:
            problems.append(f"{group}.{name}: its latest result is {row.outcome!r}, not a pass")
    return problems


def reviewed(rows: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    """What an approver is shown, exactly: each pre-check's latest recorded result (its row hash,
    which covers its evidence files' hashes) and the change the trigger form asks for."""
    latest = _latest_results(rows, PRE_CHECKS)
    form = {key: value for key, value in params.items() if key not in ANSWER_FORM}
    return {"checks": {name: row.row_hash for name, row in sorted(latest.items())},
            "evidence": {ref["path"]: ref["sha256"] for row in latest.values() for ref in row.evidence},
            "params": form}


def reviewed_digest(rows: list[Any], params: dict[str, Any]) -> str:
    document = json.dumps(reviewed(rows, params), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(document.encode()).hexdigest()


def changed_evidence(rows: list[Any], read: Callable[[str], bytes]) -> list[str]:
    """Evidence files the pre-checks recorded whose content is no longer what was approved."""
    problems = []
    for path, sha in reviewed(rows, {})["evidence"].items():
        try:
            now = hashlib.sha256(read(path)).hexdigest()
        except OSError as exc:
            problems.append(f"evidence {path} is unreadable since it was approved ({type(exc).__name__})")
            continue
        if now != sha:
            problems.append(f"evidence {path} changed since it was approved")
    return problems


def _void_problems(rows: list[Any], params: dict[str, Any], read: Callable[[str], bytes] | None) -> list[str]:
    """An approval is void when what it reviewed differs from what the change would now act on."""
    current = reviewed_digest(rows, params)
    problems = [f"approval by {row.actor} is void: what it reviewed (digest "
                f"{str(row.payload['reviewed_digest'])[:12]}) differs from the pre-check results and change now "
                f"(digest {current[:12]})"
                for row in rows if row.event in ANSWERS and row.payload.get("reviewed_digest")
                and row.payload["reviewed_digest"] != current]
    return problems + (changed_evidence(rows, read) if read is not None else [])


def _approval_problems(spec: PhaseSpec, rows: list[Any], triggering_user: str, after_seq: int) -> list[str]:
    """Each answer the plan demands: by a person allowed to give it (the role's holders, the required
    roles' holders), not the triggering user under four-eyes, after the pre-checks, each sign-off by
    a different person, with the written comment the plan asks for."""
    approval = spec.phase.approval
    excluded = {triggering_user} if approval.four_eyes else set()
    event = "decision_given" if approval.options else "approval_given"
    answers = [row for row in rows if row.event == event]
    problems: list[str] = []
    signers: set[str] = set()
    for role in approval.signoff_roles or [""]:
        label = f"{role} sign-off" if role else ("decision" if approval.options else "approval")
        allowed = {a.id for a in approval.answerers(role)} - excluded
        valid = [row for row in answers if row.actor in allowed and row.seq > after_seq and row.actor not in signers
                 and (not role or row.payload.get("role") == role)
                 and len(str(row.payload.get("comment") or "").strip()) >= approval.comment_min_chars]
        if valid:
            signers.add(valid[-1].actor)
            continue
        seen = [row for row in answers if not role or row.payload.get("role") == role]
        if not seen:
            problems.append(f"{label}: no answer in the ledger (the approval task did not ask anyone)")
        else:
            rule = f", with a comment of at least {approval.comment_min_chars} characters" \
                if approval.comment_min_chars else ""
            problems.append(f"{label}: no valid answer (answered by {sorted({r.actor for r in seen})}; it needs one "
                            f"of {sorted(allowed)} after the pre-checks{rule}, each role a different person)")
    return problems


def _freeze_problems(spec: PhaseSpec, rows: list[Any], triggering_user: str) -> list[str]:
    freeze_row = _latest_results(rows, PRE_CHECKS).get("freeze_window")
    measured = (freeze_row.payload.get("measured") or {}) if freeze_row is not None else {}
    if freeze_row is None or not measured.get("override_requested"):
        return []
    window = next((w for w in spec.plan.freeze_windows if w.name == measured.get("window")), None)
    if window is None or window.override is None:
        return [f"freeze override: window {measured.get('window')!r} allows none"]
    allowed = {a.id for a in window.override.approvers} - {triggering_user}
    needed = 2 if window.override.second_approval else 1
    grants = [row for row in rows if row.event == "freeze_override_granted" and row.seq > freeze_row.seq]
    for row in grants:
        if row.payload.get("window") == window.name:
            people = set(row.payload.get("approved_by") or [])
            if people <= allowed and len(people) >= needed:
                return []
    return [f"freeze override: the pre-check asked for one in {window.name!r}, and no grant by {needed} of "
            f"{sorted(allowed)} is in the ledger"]


def missing_before_change(spec: PhaseSpec, rows: list[Any], triggering_user: str,
                          params: dict[str, Any] | None = None,
                          read: Callable[[str], bytes] | None = None) -> list[str]:
    """What this run's ledger lacks before a change may act ([] when nothing). ``params``: the
    run's trigger form, compared with what each approval reviewed; ``read``: re-reads the pre-checks'
    evidence files (an approval is void once one changed)."""
    names = list(BUILTIN_GATES) + [check.name for check in spec.pre_checks]
    problems = _check_problems(rows, PRE_CHECKS, names)
    results = _latest_results(rows, PRE_CHECKS)
    after = max((results[name].seq for name in names if name in results), default=0)
    problems += _freeze_problems(spec, rows, triggering_user)
    problems += _approval_problems(spec, rows, triggering_user, after)
    return problems + _void_problems(rows, params or {}, read)


def missing_before_completion(spec: PhaseSpec, rows: list[Any], triggering_user: str, dry_run: bool,
                              params: dict[str, Any] | None = None) -> list[str]:
    """What this run's ledger lacks before the phase may be marked completed ([] when nothing)."""
    problems = missing_before_change(spec, rows, triggering_user, params)
    if not spec.has_change or dry_run:
        return problems
    applied = [row for row in rows if row.event == "change_applied"]
    if not applied:
        problems.append("apply_change: no change_applied row (the change did not run)")
    problems += _check_problems(rows, VERIFY, [check.name for check in spec.verify])
    if spec.has_soak:
        verdicts = [row for row in rows if row.event == "soak_completed" and row.outcome == "successful"
                    and (not applied or row.seq > applied[-1].seq)]
        if not verdicts:
            problems.append("sustained_monitor: no successful soak verdict after the change (the window was not "
                            "watched)")
    return problems
