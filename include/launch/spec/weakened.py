"""Which values make a run, or a plan written over another, weaker than the plan it answers to: a
shorter soak, sparser samples, a shorter watch after a rollback, a smaller synthetic load.

A weakened run may still change the target (an operator rehearsing, a test), but it is not the
evidence the plan asks for: its report says WEAKENED RUN and the next phase's order gate does not
count its completion. A team that needs short windows writes them into a plan marked ``mode: demo``
(``plan check`` refuses them in any other plan that extends one).
"""

from __future__ import annotations

from typing import Any

from include.launch.plan.weakening import planned_limits, weaker
from include.launch.spec.phase import PhaseSpec


def weakenings(spec: PhaseSpec, params: dict[str, Any]) -> list[str]:
    """Each form value weaker than the plan's, as ``"monitor_minutes 1 < the plan's 60"``; [] when none."""
    return weaker(planned_limits(spec.phase), params, "the plan's")
