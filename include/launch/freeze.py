"""Change-freeze windows: for an accounting product, no changes around month-end close."""

from __future__ import annotations

import calendar
from datetime import datetime
from zoneinfo import ZoneInfo

from include.launch.plan.models import FreezeWindow


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
