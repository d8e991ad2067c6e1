"""Pausing the beta on any day of its window, and resuming it (issue 20, seed 001: any integrity
issue means an immediate pause).

- A P0 found by the daily scorecard's quality suites pauses the beta by itself, the same way Phase 3's
  rollback does (``plugins.changes.beta.pause_cohort``: flags off, data kept, CSV export per tenant,
  invitees and Slack told), naming the incidents.
- The launch's beta control DAG pauses it by hand (a role in the plan's ``pause_roles``) and resumes
  it (a role in ``resume_roles``) once every incident that paused it is resolved and no incident
  that stops all changes is open.

Pauses are dated in the beta's days (the scored date, or the control run's logical date), so a
replayed beta and a real one count paused days the same way (``Pause.covers``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from include.launch.plugins.changes.catalog import BetaEnrollmentParams
from include.launch.scorecard.window import ScorecardRun, Window, find_window, logical_day, scorecard_run
from include.launch.spec.scorecard import ScorecardSpec

PIPELINE = "launch pipeline"
REASON_MIN_CHARS = 20  # a pause or a resume says why, in words the incident review will read
ACTIONS = ("pause", "resume")


class BetaControlError(ValueError):
    """A pause or resume the plan, the ledger or the window does not allow; the message names why."""


def beta_params(spec: ScorecardSpec) -> BetaEnrollmentParams:
    """The beta's settings (flags, e-mail sender, who may pause and resume) from its phase's change."""
    change = spec.plan.phase(spec.scorecard.phase).change
    if change is None or change.kind != "beta_enrollment":
        raise BetaControlError(f"phase {spec.scorecard.phase!r} enrols no beta; there is nothing to pause")
    return BetaEnrollmentParams.model_validate(change.params)


def _people(run: ScorecardRun, found: Window) -> list[dict[str, Any]]:
    from include.launch.plugins.changes.beta import invitee_people, target_dsn

    return invitee_people(target_dsn(run), found.invitees) if found.invitees else []


def _pause(run: ScorecardRun, spec: ScorecardSpec, found: Window, on: str, reason: str, by: str,
           incidents: list[str]) -> dict[str, Any]:
    from include.launch.plugins.changes.beta import pause_cohort

    return pause_cohort(run, beta_params(spec), found.tenants, _people(run, found), reason,
                        {"paused_on": on, "by": by, "incidents": incidents, "window_run_id": found.run_id})


def pause_for_incidents(run: ScorecardRun, spec: ScorecardSpec, found: Window, on: str,
                        opened: list[dict[str, Any]]) -> dict[str, Any]:
    """Pause the beta for the P0s the daily scorecard found (once: a paused beta stays paused)."""
    if found.paused is not None:
        return {"paused": False, "why": f"already paused since {found.paused.paused_on} ({found.paused.reason})"}
    ids = [str(i["incident_id"]) for i in opened]
    reason = "P0 " + ", ".join(f"{i['incident_id']} ({i['title']})" for i in opened) + f" found on {on}"
    result = _pause(run, spec, found, on, reason, PIPELINE, ids)
    return {"paused": True, "paused_on": on, "incidents": ids, "tenants": result["paused"]}


def _check_role(spec: ScorecardSpec, actor: str, allowed: list[str], action: str) -> None:
    from include.launch.plan.incident_rules import roles_of

    held = roles_of(spec.plan, actor)
    if not actor:
        raise BetaControlError(f"{action} refused: no signed-in user triggered it")
    if not held & set(allowed):
        raise BetaControlError(f"{action} refused: {actor} holds {', '.join(sorted(held)) or 'no role'} in the plan; "
                               f"only {', '.join(allowed)} may {action} the beta")


def _open_window(run: ScorecardRun, spec: ScorecardSpec, on: date, action: str) -> Window:
    found = find_window(run.ledger, spec)
    if found is None:
        raise BetaControlError(f"{action} refused: phase {spec.scorecard.phase!r} has no beta running")
    if found.closed_at is not None:
        raise BetaControlError(f"{action} refused: the beta's window was closed on {found.closed_at:%Y-%m-%d} "
                               f"({found.closed_by})")
    if not found.first_day <= on < found.planned_end.date():
        raise BetaControlError(f"{action} refused: {on} is outside the beta ({found.first_day} to "
                               f"{found.date_of(found.days)})")
    return found


def pause_by_hand(run: ScorecardRun, spec: ScorecardSpec, actor: str, reason: str, on: date) -> dict[str, Any]:
    params = beta_params(spec)
    _check_role(spec, actor, params.pause_roles, "pause")
    _check_reason(reason, "pause")
    found = _open_window(run, spec, on, "pause")
    if found.paused is not None:
        raise BetaControlError(f"pause refused: the beta is already paused since {found.paused.paused_on} "
                               f"({found.paused.reason})")
    result = _pause(run, spec, found, on.isoformat(), reason.strip(), actor, [])
    return {"action": "pause", "on": on.isoformat(), "by": actor, "tenants": result["paused"]}


def resume(run: ScorecardRun, spec: ScorecardSpec, actor: str, reason: str, on: date) -> dict[str, Any]:
    from include.launch.evidence.incident_log import open_incidents, open_with_action
    from include.launch.plugins.changes.beta import resume_cohort

    params = beta_params(spec)
    _check_role(spec, actor, params.resume_roles, "resume")
    _check_reason(reason, "resume")
    found = _open_window(run, spec, on, "resume")
    pause = found.paused
    if pause is None:
        raise BetaControlError("resume refused: the beta is not paused")
    rows = run.ledger.rows(launch_id=spec.launch_id)
    still_open = [i for i in open_incidents(rows) if i.incident_id in pause.incidents]
    still_open += [i for i in open_with_action(spec.plan, rows, "stop all changes") if i not in still_open]
    if still_open:
        raise BetaControlError("resume refused: incident(s) " + ", ".join(
            f"{i.severity} {i.incident_id} ({i.title})" for i in still_open) + " still open; resolve them first")
    done = resume_cohort(run, params, found.tenants, _people(run, found), found.planned_end, reason.strip(),
                         {"resumed_on": on.isoformat(), "by": actor, "paused_on": pause.paused_on.isoformat(),
                          "incidents": pause.incidents})
    return {"action": "resume", "on": on.isoformat(), "by": actor, "until": done["until"]}


def _check_reason(reason: str, action: str) -> None:
    if len(reason.strip()) < REASON_MIN_CHARS:
        raise BetaControlError(f"{action} refused: the reason must say why in at least {REASON_MIN_CHARS} "
                               f"characters (got {len(reason.strip())})")


def control(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    """The beta control DAG's task: pause or resume as the user who triggered it."""
    from airflow.sdk.exceptions import AirflowFailException

    run = scorecard_run(spec, context)
    params = context["params"]
    actor = run.triggering_user
    on = logical_day(context) if context.get("logical_date") else datetime.now(UTC).date()
    action = str(params["action"])
    try:
        if action == "pause":
            return pause_by_hand(run, spec, actor, str(params["reason"]), on)
        if action == "resume":
            return resume(run, spec, actor, str(params["reason"]), on)
        raise BetaControlError(f"unknown action {action!r}; the beta control DAG does {', '.join(ACTIONS)}")
    except BetaControlError as exc:
        run.record("beta_control_refused", "failed", {"action": action, "reason": str(exc)}, actor=actor)
        raise AirflowFailException(str(exc)) from None
