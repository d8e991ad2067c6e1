"""Plan variants in which the machine's speed cannot decide a test about something else.

A gate on a latency (a p95, a pool wait, a regression of the p95) measures how fast the machine
answers; on a shared two-core machine that is noise for a test whose subject is an approval, a
refusal, a rollback on errors or a soak. ``latency_cannot_decide`` keeps every such gate in the
variant (measured, evaluated, in the evidence) but out of reach:

- a bound in milliseconds becomes one hour. No latency measured inside a test can reach it: pytest
  stops any test after ten minutes (``timeout`` in pyproject.toml), and a request cannot last
  longer than the test that sent it;
- a regression criterion or trigger is judged only when the p95 rose by that same hour (its
  ``when`` on ``latency_regression_ms``), so it never is.

Tests whose subject *is* a latency keep that one check as shipped (``keep``) and produce the
latency themselves with an injected fault.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

UNREACHABLE_MS = 3_600_000.0  # one hour: longer than pytest lets any test run
REGRESSION = "latency_regression_percent"


def _is_latency(metric: str) -> bool:
    return metric.endswith("_ms") or metric == REGRESSION


def _unjudged(item: dict[str, Any]) -> None:
    """Judge a regression only when the p95 rose by an hour: never, inside a test."""
    item["when"] = {"metric": "latency_regression_ms", "op": ">", "threshold": UNREACHABLE_MS}


def _bound(criterion: dict[str, Any], where: str) -> None:
    """A latency success criterion (``<``/``<=``) no measured latency can miss."""
    if not _is_latency(criterion["metric"]):
        return
    if criterion["op"] not in ("<", "<="):
        raise AssertionError(f"{where}: a latency criterion that is not an upper bound: {criterion}")
    if criterion["metric"] == REGRESSION:
        _unjudged(criterion)
    else:
        criterion["threshold"] = UNREACHABLE_MS
        criterion.pop("description", None)  # "p95 < 500 ms" no longer describes it


def _trigger(trigger: dict[str, Any], where: str) -> None:
    """A latency rollback trigger (``>``/``>=``) that cannot fire."""
    if not _is_latency(trigger["metric"]):
        return
    if trigger["op"] not in (">", ">="):
        raise AssertionError(f"{where}: a latency rollback trigger that is not an upper bound: {trigger}")
    if trigger["metric"] == REGRESSION:
        _unjudged(trigger)
    else:
        trigger["threshold"] = UNREACHABLE_MS
        trigger.pop("description", None)


def latency_cannot_decide(plan: dict[str, Any], keep: Collection[str] = ()) -> None:
    """Edit ``plan`` (a plan document) so that no latency gate of any phase can decide a run.

    ``keep``: checks left as shipped, named ``group.name`` as their tasks are (``verify.synthetic_load``,
    ``pre_checks.load_baseline``), for the test whose subject is that gate."""
    for phase in plan["phases"]:
        for group in ("pre_checks", "verify"):
            for check in phase.get(group, []):
                name = f"{group}.{check.get('name', check['kind'])}"
                if name in keep:
                    continue
                for criterion in (check.get("params") or {}).get("criteria", []):
                    _bound(criterion, f"{phase['id']}.{name}")
        for criterion in phase.get("success_criteria", []):
            _bound(criterion, f"{phase['id']}.success_criteria")
        for trigger in phase.get("rollback_triggers", []):
            _trigger(trigger, f"{phase['id']}.rollback_triggers")
