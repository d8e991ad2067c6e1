"""Change-freeze windows: for an accounting product, no changes around month-end close.

Everything here is a pure function of the plan and a moment, so the engine's clock is the only
clock (``datetime.now``) and tests inject theirs by passing ``moment``. There is no switch that
turns a freeze off: a phase runs inside a window only when the plan marks it exempt or when a
person the window names grants an override for that one run (include.launch.engine.freeze_override).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from include.launch.plan.models import FreezeWindow, Phase
from include.launch.spec.trigger_form import OVERRIDE_PARAM


def is_frozen(window: FreezeWindow, moment: datetime) -> bool:
    """True when ``moment`` (timezone-aware) lies inside the window."""
    if window.start is not None and window.end is not None:
        return window.start <= moment < window.end
    local = moment.astimezone(ZoneInfo(window.timezone))
    days_in_month = calendar.monthrange(local.year, local.month)[1]
    in_last_days = window.last_days_of_month > 0 and local.day > days_in_month - window.last_days_of_month
    in_first_days = window.first_days_of_month > 0 and local.day <= window.first_days_of_month
    return in_last_days or in_first_days


def active_freeze(windows: list[FreezeWindow], moment: datetime) -> FreezeWindow | None:
    for window in windows:
        if is_frozen(window, moment):
            return window
    return None


def window_end(window: FreezeWindow, moment: datetime) -> datetime:
    """When the freeze that holds at ``moment`` ends (UTC): midnight local time of the first day
    after the window's days, which for the last days of a month lies in the next month."""
    if window.end is not None:
        return window.end.astimezone(UTC)
    zone = ZoneInfo(window.timezone)
    local = moment.astimezone(zone)
    if window.first_days_of_month and local.day <= window.first_days_of_month:
        first_free = local.date().replace(day=window.first_days_of_month + 1)
    else:  # inside the last days: free again after the next month's first days
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        first_free = local.date().replace(year=year, month=month, day=window.first_days_of_month + 1)
    return datetime(first_free.year, first_free.month, first_free.day, tzinfo=zone).astimezone(UTC)


def describe(window: FreezeWindow) -> str:
    """The window as people say it: ``month_end_close (last 2 and first 3 days of each month, UTC)``."""
    if window.start is not None and window.end is not None:
        return f"{window.name} ({window.start:%Y-%m-%d %H:%M %Z} to {window.end:%Y-%m-%d %H:%M %Z})"
    days = [f"last {window.last_days_of_month}"] if window.last_days_of_month else []
    days += [f"first {window.first_days_of_month}"] if window.first_days_of_month else []
    return f"{window.name} ({' and '.join(days)} days of each month, {window.timezone})"


@dataclass(frozen=True)
class Freeze:
    """A freeze that holds at ``moment``: which window, and until when."""

    window: FreezeWindow
    moment: datetime
    ends_at: datetime

    @property
    def label(self) -> str:
        return f"{describe(self.window)} until {self.ends_at:%Y-%m-%d %H:%M} UTC"


def freeze_at(windows: list[FreezeWindow], moment: datetime) -> Freeze | None:
    window = active_freeze(windows, moment)
    if window is None:
        return None
    return Freeze(window, moment, window_end(window, moment))


def how_to_override(window: FreezeWindow) -> str:
    """The refusal's second half: what a person must do to change during this window."""
    override = window.override
    if override is None:
        return "this window allows no override: wait until it ends"
    approvers = ", ".join(a.id for a in override.approvers)
    people = "two different people" if override.second_approval else "one person"
    justification = (f"a written justification of at least {override.justification_min_chars} characters"
                     if override.justification_min_chars else "a justification (optional)")
    return (f"to change during it, trigger a new run with the form field 'Freeze override justification' "
            f"({OVERRIDE_PARAM}) holding {justification}; {people} among {approvers} (not the one who triggers) "
            f"must then approve the override (task freeze_override)")


def justification_problem(window: FreezeWindow, justification: str) -> str:
    """Why a requested override cannot be asked for, or '' when it can."""
    override = window.override
    if override is None:
        return f"freeze {window.name!r} allows no override"
    if len(justification.strip()) < override.justification_min_chars:
        return (f"the freeze override justification has {len(justification.strip())} characters; "
                f"freeze {window.name!r} requires at least {override.justification_min_chars}")
    return ""


def override_expiry(freeze: Freeze, granted_at: datetime) -> datetime:
    """An override ends with its window, or after the plan's ``max_hours``, whichever comes first."""
    assert freeze.window.override is not None
    return min(freeze.ends_at, granted_at + timedelta(hours=freeze.window.override.max_hours))


@dataclass(frozen=True)
class Verdict:
    """May this phase change the target at ``moment``? ``needs_override``: yes, once a person grants it."""

    allowed: bool
    reason: str
    freeze: Freeze | None = None
    needs_override: bool = False


def pre_check(windows: list[FreezeWindow], phase: Phase, moment: datetime, justification: str) -> Verdict:
    """The pre-check: outside every window, exempt, or an override requested the window accepts."""
    freeze = freeze_at(windows, moment)
    if freeze is None:
        return Verdict(True, f"no change freeze at {moment:%Y-%m-%d %H:%M} UTC")
    if phase.freeze_exempt:
        return Verdict(True, f"inside change freeze {freeze.label}, but the phase is exempt", freeze)
    if not justification.strip():
        return Verdict(False, f"inside change freeze {freeze.label}; {how_to_override(freeze.window)}", freeze)
    problem = justification_problem(freeze.window, justification)
    if problem:
        return Verdict(False, f"inside change freeze {freeze.label}; {problem}; {how_to_override(freeze.window)}",
                       freeze)
    return Verdict(True, f"inside change freeze {freeze.label}; override requested: waiting for its approval "
                         "(task freeze_override)", freeze, needs_override=True)


def change_guard(windows: list[FreezeWindow], phase: Phase, moment: datetime,
                 overrides: list[dict[str, Any]]) -> Verdict:
    """Right before the change: the freeze again (an approval can arrive hours later), satisfied only
    by this run's unexpired override of the window that holds now."""
    freeze = freeze_at(windows, moment)
    if freeze is None:
        return Verdict(True, f"no change freeze at {moment:%Y-%m-%d %H:%M} UTC")
    if phase.freeze_exempt:
        return Verdict(True, f"inside change freeze {freeze.label}, but the phase is exempt", freeze)
    granted = [o for o in overrides if o.get("window") == freeze.window.name]
    if not granted:
        return Verdict(False, f"inside change freeze {freeze.label} and this run has no override for it; "
                              f"{how_to_override(freeze.window)}", freeze)
    expires = datetime.fromisoformat(str(granted[-1]["expires_at"]))
    if moment >= expires:
        return Verdict(False, f"inside change freeze {freeze.label}; this run's override expired at "
                              f"{expires:%Y-%m-%d %H:%M} UTC; {how_to_override(freeze.window)}", freeze)
    return Verdict(True, f"inside change freeze {freeze.label}; override by "
                         f"{', '.join(granted[-1].get('approved_by') or [])} valid until "
                         f"{expires:%Y-%m-%d %H:%M} UTC", freeze)
