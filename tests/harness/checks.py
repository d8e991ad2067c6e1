"""Run one check kind the way the engine does: through the registry, so scripts/mutate_checks.py's
mutant (which replaces the registered implementation) reaches it. A test that imports the check
function directly would never notice that check broken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks import CHECKS
from include.launch.plugins.checks.base import CheckResult


def run_check(kind: str, run: PhaseRun, **params: Any) -> CheckResult:
    """The check ``kind`` on ``run`` with ``params`` validated by its own params model."""
    registered = CHECKS.get(kind)
    return registered.load()(run, registered.params_model.model_validate(params))  # type: ignore[no-any-return]


def registered_check(kind: str) -> Callable[..., CheckResult]:
    """The implementation the registry hands the engine for ``kind`` (the mutant, under
    scripts/mutate_checks.py), called with a params model like the engine does."""
    return CHECKS.get(kind).load()  # type: ignore[no-any-return]
