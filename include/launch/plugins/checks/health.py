"""Replica health, read where the target profile says: every replica healthy, and (after a change)
running the settings the change asked for."""

from __future__ import annotations

from typing import Any

import requests

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan.profile import HealthProfile, TargetProfile
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import NoParams
from include.launch.plugins.target import Target


def health_profile(run: PhaseRun) -> HealthProfile:
    """The plan's health profile (its defaults when the plan has no target profile)."""
    profile = run.spec.plan.target_profile
    return profile.health if profile is not None else HealthProfile()


def field(body: Any, dotted: str) -> Any:
    """A dotted field of a JSON body (None when any part is missing)."""
    for part in dotted.split("."):
        body = body.get(part) if isinstance(body, dict) else None
    return body


def read_health(target: Target, profile: HealthProfile) -> dict[str, dict[str, Any]]:
    """Each replica's health JSON (503 bodies included: a degraded replica still says why)."""
    states: dict[str, dict[str, Any]] = {}
    for url in target.replicas:
        response = requests.get(f"{url}{profile.path}", timeout=target.timeout)
        body = response.json()
        body = body if isinstance(body, dict) else {"body": body}
        body["http_status"] = response.status_code
        states[url] = body
    return states


def is_healthy(state: dict[str, Any], profile: HealthProfile) -> bool:
    return state.get("http_status") == 200 and str(field(state, profile.healthy_field)) == profile.healthy_value


def running_settings(state: dict[str, Any], profile: HealthProfile) -> dict[str, Any]:
    """Setting key -> the value the replica reports running with (only the settings its health tells)."""
    return {key: field(state, dotted) for key, dotted in profile.settings.items()}


def is_ready(state: dict[str, Any], profile: HealthProfile) -> bool:
    """The profile's readiness rule (a pool warmed to its minimum); a replica without the figures counts as ready."""
    if profile.ready is None:
        return True
    current, minimum = field(state, profile.ready.field), field(state, profile.ready.at_least)
    try:
        return current is None or minimum is None or float(current) >= float(minimum)
    except (TypeError, ValueError):
        return False


def readiness(state: dict[str, Any], profile: HealthProfile) -> dict[str, Any]:
    """The figures the readiness rule reads (shown when a replica never became ready)."""
    if profile.ready is None:
        return {}
    return {dotted: field(state, dotted) for dotted in (profile.ready.field, profile.ready.at_least)}


def settings_match(state: dict[str, Any], profile: HealthProfile, values: dict[str, Any]) -> bool:
    """Every setting in ``values`` that the health endpoint reports equals it."""
    running = running_settings(state, profile)
    return all(str(running[key]) == str(value) for key, value in values.items() if key in running)


def shown(state: dict[str, Any], profile: HealthProfile) -> dict[str, Any]:
    """What the evidence keeps of one replica's health: the profile's fields, settings and state."""
    fields = profile.shown or [profile.healthy_field]
    return {**{dotted: field(state, dotted) for dotted in fields}, "http_status": state.get("http_status"),
            "settings": running_settings(state, profile)}


def read_version(url: str, profile: TargetProfile, timeout: float = 5.0) -> str:
    """The version one replica (or a proxy) tells, where the profile says: "" when it tells none.
    Raises requests' errors (and ValueError for a body that is not JSON) for the caller to name."""
    response = requests.get(f"{url}{profile.health.path}", timeout=timeout, headers={"Connection": "close"})
    if profile.version.header:
        return str(response.headers.get(profile.version.header) or "")
    value = field(response.json(), profile.version.health_field)
    return "" if value is None else str(value)


def health_endpoints(run: PhaseRun, params: NoParams) -> CheckResult:
    target = Target.from_connection(run.spec.plan.connections.target_api)
    profile = health_profile(run)
    states = read_health(target, profile)
    summary = {url: shown(state, profile) for url, state in states.items()}
    bad = [f"{url} answered {state['http_status']} ({profile.healthy_field} {field(state, profile.healthy_field)!r}, "
           f"expected {profile.healthy_value!r})" for url, state in states.items() if not is_healthy(state, profile)]
    ref = run.evidence.write_json(f"{run.task_id.replace('.', '_')}_health.json", summary)
    if bad:
        return CheckResult(Outcome.FAILED, "unhealthy replicas: " + "; ".join(bad), {"replicas": summary},
                           evidence=[ref])
    return CheckResult(Outcome.SUCCESSFUL, f"{len(states)} replica(s) healthy", {"replicas": summary}, evidence=[ref])


def settings_applied(run: PhaseRun, params: NoParams) -> CheckResult:
    """Read back from every replica's health endpoint: the settings the change asked for, each one
    the profile says the endpoint reports. A change none of whose settings can be read back fails."""
    from include.launch.spec.effective import change_params

    change = change_params(run.spec, run.params)
    asked = {key: value for key, value in (getattr(change, "settings", {}) or {}).items()}
    profile = health_profile(run)
    readable = {key: value for key, value in asked.items() if key in profile.settings}
    if not readable:
        return CheckResult(Outcome.FAILED, f"none of the changed settings ({', '.join(asked) or 'none'}) is reported "
                           "by the health endpoint (target_profile.health.settings): nothing can be read back")
    states = read_health(Target.from_connection(run.spec.plan.connections.target_api), profile)
    measured = {url: running_settings(state, profile) for url, state in states.items()}
    wrong = [f"{url} {key} = {running.get(key)} (expected {value})" for url, running in measured.items()
             for key, value in readable.items() if str(running.get(key)) != str(value)]
    expected = [{"setting": key, "threshold": value} for key, value in readable.items()]
    if wrong:
        return CheckResult(Outcome.FAILED, "; ".join(wrong), {"replicas": measured, "expected": expected})
    told = ", ".join(f"{key} {value}" for key, value in readable.items())
    return CheckResult(Outcome.SUCCESSFUL, f"every replica reports {told}", {"replicas": measured})
