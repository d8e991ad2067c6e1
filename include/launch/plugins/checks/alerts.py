"""Alertmanager checks: nothing critical firing before a change; critical alerts routed to every receiver."""

from __future__ import annotations

import requests

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult, SourceUnavailableError
from include.launch.plugins.checks.catalog import AlertRoutingParams, SeverityParams


def alertmanager_url(run: PhaseRun) -> str | None:
    """The Alertmanager base URL, or None when the plan names no connection or it is not defined."""
    from include.launch.core.connections import optional_http_url

    return optional_http_url(run.spec.plan.connections.alertmanager, 9093)


def no_firing_alerts(run: PhaseRun, params: SeverityParams) -> CheckResult:
    base = alertmanager_url(run)
    if base is None:
        raise SourceUnavailableError(f"no Alertmanager connection {run.spec.plan.connections.alertmanager!r}: firing "
                                "alerts cannot be seen")
    response = requests.get(f"{base}/api/v2/alerts", params={"active": "true", "silenced": "false"}, timeout=5)
    response.raise_for_status()
    blocking = {severity.value for severity in params.severities}
    firing = [alert["labels"].get("alertname", "?") + f" ({alert['labels'].get('severity')})"
              for alert in response.json() if alert.get("labels", {}).get("severity") in blocking]
    if firing:
        return CheckResult(Outcome.FAILED, f"firing alert(s): {', '.join(firing)}", {"firing": firing})
    return CheckResult(Outcome.SUCCESSFUL, f"no firing {'/'.join(sorted(blocking))} alert", {"firing": []})


CRITICAL_SEVERITIES = ("P0", "P1")  # Launch B's "critical" alerts are its P0 and P1 incident rules


def routed_receivers(base: str, severity: str) -> list[str]:
    """Ask the running Alertmanager (``amtool config routes test``) where an alert would go."""
    from include.monitoring.bundle import run_tool

    result = run_tool(["amtool", "config", "routes", "test", f"--alertmanager.url={base}", f"severity={severity}"])
    if not result.ok:
        raise RuntimeError(f"amtool config routes test: {result.output}")
    return [name.strip() for name in result.output.split(",") if name.strip()]


def covers(receiver: str, routed: list[str]) -> bool:
    """``slack`` is covered by ``slack`` or a channel-specific ``slack_urgent``."""
    return any(name == receiver or name.startswith(receiver + "_") for name in routed)


def alert_routing(run: PhaseRun, params: AlertRoutingParams) -> CheckResult:
    base = alertmanager_url(run)
    if base is None:
        return CheckResult(Outcome.FAILED, "no Alertmanager connection: critical alerts reach no one")
    routes = {severity: routed_receivers(base, severity) for severity in CRITICAL_SEVERITIES}
    gaps = [f"{severity} -> {routed or 'nothing'} misses {receiver!r}" for severity, routed in routes.items()
            for receiver in params.receivers if not covers(receiver, routed)]
    evidence = [run.evidence.write_json("alert_routing.json", {"required": params.receivers, "routes": routes},
                                        replace=True)]
    if gaps:
        return CheckResult(Outcome.FAILED, "critical alert routing: " + "; ".join(gaps), {"routes": routes},
                           evidence=evidence)
    return CheckResult(Outcome.SUCCESSFUL, f"critical alerts ({'/'.join(CRITICAL_SEVERITIES)}) reach "
                                           f"{', '.join(params.receivers)}", {"routes": routes}, evidence=evidence)
