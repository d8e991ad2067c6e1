"""The freeze override: a person the freeze window names lifts it for one run, in writing.

Rendered between the pre-checks and the phase approval when a plan's freeze window allows an
override. Outside a freeze (or for an exempt phase) the task returns at once and asks nobody.
Inside one, the pre-check has already refused a run without a justification, so here the
requester's justification is shown to the window's approvers minus the triggering user; with
``second_approval`` a second task asks a different person. The grant is its own ledger event
(``freeze_override_granted``: who asked and why, who approved, which window, until when), goes to
Slack, into the phase report and onto the board. ``apply_change`` checks the freeze again and
accepts only this run's unexpired grant (include.launch.engine.freeze.change_guard).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.vocabulary import Outcome
from include.launch.engine.freeze import describe, freeze_at, override_expiry, pre_check
from include.launch.engine.responder import responder
from include.launch.evidence.events import OVERRIDE_GRANTED
from include.launch.plan.models import Approver, FreezeWindow
from include.launch.spec.phase import PhaseSpec
from include.launch.spec.trigger_form import OVERRIDE_PARAM, overridable_windows

FIRST_TASK = "freeze_override"
SECOND_TASK = "freeze_override_second"
APPROVED = "freeze_override_approved"


def override_task_ids(spec: PhaseSpec) -> list[str]:
    windows = overridable_windows(spec)
    if not windows:
        return []
    second = any(window.override is not None and window.override.second_approval for window in windows)
    return [FIRST_TASK, SECOND_TASK] if second else [FIRST_TASK]


def _all_approvers(windows: list[FreezeWindow]) -> list[Approver]:
    people: dict[str, Approver] = {}
    for window in windows:
        assert window.override is not None
        for approver in window.override.approvers:
            people.setdefault(approver.id, approver)
    return list(people.values())


class FreezeOverrideOperator(ApprovalOperator):
    """Approve or Reject lifting the freeze that holds now, for this run only."""

    def __init__(self, *, spec: PhaseSpec, second: bool = False, **kwargs: Any) -> None:
        windows = overridable_windows(spec)
        kwargs.pop("params", None)  # DAG-level params arrive here; the form shows only the comment
        timeout = max(w.override.timeout_minutes for w in windows if w.override is not None)
        super().__init__(
            subject=f"{spec.plan.launch.name}: override the change freeze for {spec.phase.title}"
                    + (" (second approval)" if second else ""),
            body="The freeze, the justification and who asked are shown when the request is made.",
            assigned_users=[{"id": a.id, "name": a.name} for a in _all_approvers(windows)],
            response_timeout=timedelta(minutes=timeout),
            params={"comment": Param("", type="string", title="Comment",
                                     description="What you weighed; required when you reject.")},
            **kwargs,
        )
        self.spec = spec
        self.second = second

    # -- asking --------------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        from include.launch.evidence.runtime import PhaseRun

        run = PhaseRun.from_context(self.spec, context)
        justification = str(run.params.get(OVERRIDE_PARAM) or "")
        verdict = pre_check(self.spec.plan.freeze_windows, self.spec.phase, datetime.now(UTC), justification)
        if not verdict.allowed:  # a freeze began after the pre-check, and nobody asked to override it
            run.record("freeze_refused", Outcome.FAILED.value, {"reason": verdict.reason, "task": self.task_id})
            run.notify("failed", verdict.reason, severity="P2")
            raise AirflowFailException(verdict.reason)
        if not verdict.needs_override or verdict.freeze is None:
            return {"needed": False, "summary": verdict.reason}
        window = verdict.freeze.window
        assert window.override is not None
        if self.second and not window.override.second_approval:
            return {"needed": False, "summary": f"freeze {window.name!r} needs one approval, given in {FIRST_TASK}"}
        earlier = self._approved_by(run, window.name)
        eligible = [a for a in window.override.approvers if a.id != run.triggering_user and a.id not in earlier]
        if not eligible:
            reason = (f"no one may approve the override of freeze {window.name!r}: its approvers "
                      f"{[a.id for a in window.override.approvers]} triggered the run or already approved it")
            run.record("freeze_override_refused", Outcome.FAILED.value, {"window": window.name, "reason": reason})
            run.notify("failed", reason, severity="P2")
            raise AirflowFailException(reason)
        self.assigned_users = [{"id": a.id, "name": a.name} for a in eligible]
        self.body = override_body(self.spec, verdict.freeze.label, run.triggering_user, justification, earlier)
        run.record("freeze_override_requested", "", {
            "window": window.name, "freeze": verdict.freeze.label, "justification": justification,
            "assigned": [a.id for a in eligible], "second": self.second})
        return super().execute(context)

    def _approved_by(self, run: Any, window: str) -> list[str]:
        return [row.actor for row in run.own_rows(APPROVED) if row.payload.get("window") == window]

    # -- the answer ----------------------------------------------------------------------------
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from include.launch.evidence.runtime import PhaseRun

        run = PhaseRun.from_context(self.spec, context)
        requested = run.own_rows("freeze_override_requested")[-1].payload
        if "error" in event:
            run.record("freeze_override_timed_out", Outcome.FAILED.value,
                       {"window": requested["window"], "error": str(event.get("error"))})
            run.notify("failed", f"Freeze override for {requested['window']!r} not answered: no change was made.",
                       severity="P2")
            raise AirflowFailException("freeze override not answered in time: no change was made")
        user, name = responder(event, _all_approvers(overridable_windows(self.spec)))
        choice = (event.get("chosen_options") or [""])[0]
        comment = str((event.get("params_input") or {}).get("comment") or "").strip()
        if user == run.triggering_user or user not in requested["assigned"]:
            reason = f"{user!r} may not approve this override (allowed: {requested['assigned']}; never the requester)"
            run.record("four_eyes_violation", Outcome.FAILED.value, {"user": user, "task": self.task_id}, actor=user)
            raise AirflowFailException(reason)
        if choice != self.APPROVE:
            if not comment:
                comment = "no reason given"
            run.record("freeze_override_rejected", "rejected", {"window": requested["window"], "comment": comment},
                       actor=user)
            run.notify("rejected", f"Freeze override for {requested['window']!r} rejected by {name}: {comment}. "
                                   "No change was made.", details={"Approver": name})
            raise AirflowFailException(f"freeze override rejected by {name}: {comment}; no change made")
        run.record(APPROVED, Outcome.SUCCESSFUL.value, {"window": requested["window"], "comment": comment,
                                                        "responded_at": str(event.get("responded_at"))}, actor=user)
        window = next(w for w in self.spec.plan.freeze_windows if w.name == requested["window"])
        assert window.override is not None
        if window.override.second_approval and not self.second:
            run.notify("approved", f"Freeze override for {window.name!r}: first approval by {name}; a second person "
                                   "must approve it too", details={"Approver": name})
            super().execute_complete(context, event)
            return {"needed": True, "summary": f"override of {window.name!r}: first approval by {user}"}
        grant = self._grant(run, window, requested)
        super().execute_complete(context, event)
        return {"needed": True, "summary": f"override of {window.name!r} granted by {', '.join(grant['approved_by'])} "
                                           f"until {grant['expires_at']}"}

    def _grant(self, run: Any, window: FreezeWindow, requested: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        freeze = freeze_at([window], now)
        approvals = [row for row in run.own_rows(APPROVED) if row.payload.get("window") == window.name]
        grant = {
            "window": window.name, "window_description": describe(window), "requested_by": run.triggering_user,
            "justification": requested["justification"], "approved_by": [row.actor for row in approvals],
            "comments": {row.actor: row.payload.get("comment", "") for row in approvals},
            "granted_at": now.isoformat(timespec="seconds"),
            # A freeze that ended while the request waited needs no override; the grant expires at once.
            "expires_at": (override_expiry(freeze, now) if freeze else now).isoformat(timespec="seconds"),
        }
        run.record(OVERRIDE_GRANTED, Outcome.SUCCESSFUL.value, grant, actor=approvals[-1].actor)
        run.notify("freeze_override", f"Change freeze {window.name!r} overridden for this run until "
                                      f"{grant['expires_at']}: {grant['justification']}",
                   severity="P2", details={"Requested by": grant["requested_by"],
                                           "Approved by": ", ".join(grant["approved_by"]),
                                           "Until": grant["expires_at"]})
        return grant


def override_body(spec: PhaseSpec, freeze: str, requester: str, justification: str, earlier: list[str]) -> str:
    """Markdown the override approver reads."""
    lines = [f"### Override the change freeze for {spec.phase.title} (risk {spec.phase.risk.value})", "",
             f"- Freeze: **{freeze}**",
             f"- Requested by: **{requester or 'unknown'}**",
             f"- Justification: {justification}",
             "- Covers this run only; it expires at the window's end or after the plan's limit.", ""]
    if earlier:
        lines.append(f"Already approved by {', '.join(earlier)}; you are the second approver.")
    lines.append("The freeze is checked again right before the change is applied.")
    return "\n".join(lines)
