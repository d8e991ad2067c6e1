"""The rollback's own clock: its duration against the plan's target_minutes."""

from __future__ import annotations

import pytest

from include.launch.engine.restore import over_target


@pytest.mark.parametrize(("minutes", "target", "expected"), [
    (4.0, 10.0, ""), (10.0, 10.0, ""), (None, None, ""),
    (12.5, 10.0, "the rollback took 12.50 min, over the plan's target of 10 min"),
], ids=["inside", "on-target", "no-rollback-block", "over"])
def test_a_rollback_slower_than_the_plan_target_is_named(minutes: float | None, target: float | None,
                                                         expected: str) -> None:
    assert over_target(minutes or 0.0, target) == expected
