"""Change-freeze windows with an injected clock: their edges, month lengths, time zones, the
refusal's wording, and the override's rules (who, why, until when) before the change is applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.launch.engine import freeze
from include.launch.plan.models import Approver, FreezeOverride, FreezeWindow, Phase

PEOPLE = [Approver(id="exec_approver", name="Executive"), Approver(id="eng_lead", name="Engineering Lead")]
OVERRIDE = FreezeOverride(approvers=PEOPLE, justification_min_chars=20, second_approval=True, max_hours=8)
MONTH_END = FreezeWindow(name="month_end_close", last_days_of_month=2, first_days_of_month=3, override=OVERRIDE)
PHASE = Phase.model_validate({"id": "phase1", "dag_id": "phase1", "title": "Pool", "risk": "LOW",
                              "estimated_minutes": 5, "approval": {"approvers": [p.model_dump() for p in PEOPLE]}})
REASON = "Payroll customers lose invoices until the pool is raised."


def at(*parts: int, tz: Any = UTC) -> datetime:
    return datetime(*parts, tzinfo=tz)  # type: ignore[misc]


@pytest.mark.parametrize(("moment", "frozen"), [
    (at(2026, 11, 23, 12), False),
    (at(2026, 11, 28, 23, 59, 59), False),   # 30-day month: the 28th is not among the last two
    (at(2026, 11, 29, 0, 0), True),          # ... the 29th is
    (at(2026, 12, 3, 23, 59), True),         # first three days
    (at(2026, 12, 4, 0, 0), False),          # the freeze ends at midnight of the 4th
    (at(2026, 12, 29, 23, 59), False),       # 31-day month: the 29th is free
    (at(2026, 12, 30, 0, 0), True),          # ... the 30th and 31st are frozen
    (at(2027, 2, 26, 23, 59), False),        # 28-day February: the 26th is free
    (at(2027, 2, 27, 8), True),              # ... the 27th is frozen
    (at(2028, 2, 27, 8), False),             # 29-day February (leap year): the 27th is free
    (at(2028, 2, 28, 8), True),
], ids=["mid-month", "30-day-28th", "30-day-29th", "first-days", "after-close", "31-day-29th", "31-day-30th",
        "feb28-26th", "feb28-27th", "leap-27th", "leap-28th"])
def test_month_end_window_edges(moment: datetime, frozen: bool) -> None:
    assert freeze.is_frozen(MONTH_END, moment) is frozen


def test_the_window_follows_its_own_time_zone_not_utc() -> None:
    los_angeles = MONTH_END.model_copy(update={"timezone": "America/Los_Angeles"})
    auckland = MONTH_END.model_copy(update={"timezone": "Pacific/Auckland"})
    evening_of_the_third_in_la = at(2026, 12, 4, 2, 0)  # 18:00 on 3 December in Los Angeles
    assert not freeze.is_frozen(MONTH_END, evening_of_the_third_in_la)
    assert freeze.is_frozen(los_angeles, evening_of_the_third_in_la)
    morning_of_the_fourth_in_auckland = at(2026, 12, 3, 12, 0)  # 01:00 on 4 December in Auckland
    assert freeze.is_frozen(MONTH_END, morning_of_the_fourth_in_auckland)
    assert not freeze.is_frozen(auckland, morning_of_the_fourth_in_auckland)
    # ... and it ends at local midnight, given back in UTC
    assert freeze.window_end(los_angeles, evening_of_the_third_in_la) == at(2026, 12, 4, 8, 0)


@pytest.mark.parametrize(("moment", "ends"), [
    (at(2026, 11, 29, 10), at(2026, 12, 4)),
    (at(2026, 12, 31, 23), at(2027, 1, 4)),   # across the year
    (at(2026, 12, 2, 10), at(2026, 12, 4)),
], ids=["last-days", "new-year", "first-days"])
def test_window_end(moment: datetime, ends: datetime) -> None:
    assert freeze.window_end(MONTH_END, moment) == ends
    only_last = FreezeWindow(name="close", last_days_of_month=2)
    if moment.day > 20:
        assert freeze.window_end(only_last, moment) == ends.replace(day=1)


def test_explicit_window_and_its_end() -> None:
    window = FreezeWindow(name="xmas", start=at(2026, 12, 24), end=at(2026, 12, 27))
    assert freeze.is_frozen(window, at(2026, 12, 24)) and not freeze.is_frozen(window, at(2026, 12, 27))
    assert freeze.window_end(window, at(2026, 12, 25)) == at(2026, 12, 27)


def test_refusal_names_the_window_its_end_and_how_to_override() -> None:
    verdict = freeze.pre_check([MONTH_END], PHASE, at(2026, 12, 1, 9), "")
    assert not verdict.allowed
    assert "inside change freeze month_end_close (last 2 and first 3 days of each month, UTC) until " \
           "2026-12-04 00:00 UTC" in verdict.reason
    assert "'Freeze override justification' (freeze_override_justification)" in verdict.reason
    assert "at least 20 characters" in verdict.reason and "two different people among exec_approver, eng_lead" \
        in verdict.reason


def test_a_window_without_override_says_wait() -> None:
    strict = MONTH_END.model_copy(update={"override": None})
    verdict = freeze.pre_check([strict], PHASE, at(2026, 12, 1, 9), REASON)
    assert not verdict.allowed and "allows no override" in verdict.reason


def test_a_short_justification_is_refused_with_the_minimum() -> None:
    verdict = freeze.pre_check([MONTH_END], PHASE, at(2026, 12, 1, 9), "urgent")
    assert not verdict.allowed and "has 6 characters; freeze 'month_end_close' requires at least 20" in verdict.reason


def test_justification_min_chars_zero_makes_it_optional() -> None:
    lenient = MONTH_END.model_copy(update={"override": OVERRIDE.model_copy(update={"justification_min_chars": 0})})
    assert freeze.justification_problem(lenient, "") == ""
    assert freeze.pre_check([lenient], PHASE, at(2026, 12, 1, 9), "x").needs_override


def test_an_override_request_passes_the_pre_check_but_still_needs_a_person() -> None:
    verdict = freeze.pre_check([MONTH_END], PHASE, at(2026, 12, 1, 9), REASON)
    assert verdict.allowed and verdict.needs_override and "waiting for its approval" in verdict.reason
    outside = freeze.pre_check([MONTH_END], PHASE, at(2026, 12, 10, 9), REASON)
    assert outside.allowed and not outside.needs_override


def test_an_exempt_phase_runs_inside_the_window() -> None:
    exempt = PHASE.model_copy(update={"freeze_exempt": True})
    assert freeze.pre_check([MONTH_END], exempt, at(2026, 12, 1, 9), "").allowed
    assert freeze.change_guard([MONTH_END], exempt, at(2026, 12, 1, 9), []).allowed


EXPIRES = at(2026, 12, 1, 17)


def grant(window: str = "month_end_close") -> dict[str, object]:
    return {"window": window, "expires_at": EXPIRES.isoformat(), "approved_by": ["exec_approver", "eng_lead"]}


def test_the_change_is_refused_when_the_freeze_began_after_the_pre_checks() -> None:
    """Pre-checks on the 28th, approval on the 29th: no override, so the change never starts."""
    assert freeze.pre_check([MONTH_END], PHASE, at(2026, 11, 28, 20), "").allowed
    verdict = freeze.change_guard([MONTH_END], PHASE, at(2026, 11, 29, 9), [])
    assert not verdict.allowed and "this run has no override for it" in verdict.reason
    assert "until 2026-12-04 00:00 UTC" in verdict.reason


def test_an_override_covers_only_its_window_and_only_until_it_expires() -> None:
    assert freeze.change_guard([MONTH_END], PHASE, at(2026, 12, 1, 16, 59), [grant()]).allowed
    expired = freeze.change_guard([MONTH_END], PHASE, at(2026, 12, 1, 17, 0), [grant()])
    assert not expired.allowed and "override expired at 2026-12-01 17:00 UTC" in expired.reason
    other = freeze.change_guard([MONTH_END], PHASE, at(2026, 12, 1, 9), [grant(window="xmas")])
    assert not other.allowed and "no override" in other.reason


def test_an_override_expires_at_the_plans_limit_or_the_windows_end() -> None:
    early = freeze.freeze_at([MONTH_END], at(2026, 12, 1, 9))
    assert early is not None and freeze.override_expiry(early, at(2026, 12, 1, 9)) == at(2026, 12, 1, 17)
    late = freeze.freeze_at([MONTH_END], at(2026, 12, 3, 20))
    assert late is not None and freeze.override_expiry(late, at(2026, 12, 3, 20)) == at(2026, 12, 4)
    assert freeze.override_expiry(late, at(2026, 12, 3, 20)) - at(2026, 12, 3, 20) == timedelta(hours=4)
