"""A pytest plugin for scripts/mutate_checks.py: with ``LAUNCH_MUTANT_CHECK=<kind>`` every check of
that kind passes without measuring anything. A check whose tests still pass under its mutant has no
test that would notice it broken. Loaded only by that script (``-p tests.harness.mutant``)."""

from __future__ import annotations

import os
from typing import Any

import pytest

ENV = "LAUNCH_MUTANT_CHECK"


def always_passes(run: Any, params: Any) -> Any:
    from include.launch.core.vocabulary import Outcome
    from include.launch.plugins.checks.base import CheckResult

    return CheckResult(Outcome.SUCCESSFUL, "mutant: passed without measuring")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    kind = os.environ.get(ENV)
    if not kind:
        return
    from include.launch.core.registry import Kind
    from include.launch.plugins.checks import CHECKS

    CHECKS.get(kind)  # an unknown kind is an error here, not a silently surviving mutant
    original = Kind.load

    def load(self: Kind[Any]) -> Any:
        if self.name == kind and self.implementation.startswith("include.launch.plugins.checks."):
            return always_passes
        return original(self)

    Kind.load = load  # type: ignore[method-assign]
