"""One change at a time per launch, even under a race; month-end freeze windows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from include.launch import locks
from include.launch.freeze import active_freeze
from include.launch.plan.models import FreezeWindow


def test_racing_runs_get_exactly_one_lock(fresh_db: str) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def contend(run: int) -> None:
        barrier.wait()
        if locks.acquire(fresh_db, "accubooks", "phase1", f"run-{run}") is None:
            winners.append(f"run-{run}")

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert locks.acquire(fresh_db, "accubooks", "phase1", winners[0]) is None  # the holder may re-enter
    assert not locks.release(fresh_db, "accubooks", "phase1", "run-not-holding")
    assert locks.release(fresh_db, "accubooks", "phase1", winners[0])
    assert locks.acquire(fresh_db, "accubooks", "phase2", "next") is None


MONTH_END = FreezeWindow(name="month_end_close", last_days_of_month=2, first_days_of_month=3)


@pytest.mark.parametrize(("moment", "frozen"), [
    (datetime(2026, 11, 23, 12, tzinfo=UTC), False),
    (datetime(2026, 11, 29, 0, 1, tzinfo=UTC), True),
    (datetime(2026, 12, 3, 23, 59, tzinfo=UTC), True),
    (datetime(2026, 12, 4, 0, 0, tzinfo=UTC), False),
    (datetime(2027, 2, 27, 8, tzinfo=UTC), True),   # February has 28 days
], ids=["mid-month", "last-days", "first-days", "after-close", "february"])
def test_month_end_freeze(moment: datetime, frozen: bool) -> None:
    assert (active_freeze([MONTH_END], moment) is not None) is frozen
