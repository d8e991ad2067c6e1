"""One change at a time per launch, even under a race (freeze windows: tests/launch/engine/test_freeze.py)."""

from __future__ import annotations

import threading

from include.launch.engine import locks


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
