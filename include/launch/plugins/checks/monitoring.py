"""Phase 2's checks: the rendered config is valid before anything is installed, and monitoring is
live afterwards.

``monitoring_config_valid`` renders the exact files the change would install into a scratch folder
and runs promtool and amtool on them; a refusal fails with the tool's own words. ``monitoring_live``
asks the running Prometheus and Alertmanager, never the files: rules loaded and healthy, the
installed scrape config running and every one of its targets scraped up since it was loaded (never
the previous config's target list, which Prometheus keeps showing for a few seconds after a reload),
every required metric has data, a test alert delivered (Alertmanager's own
notification counters), dashboards readable with every required metric on a panel. Anything that
cannot be reached is an ERROR (could not measure), never a pass.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceRef
from include.launch.plugins.changes.catalog import MonitoringInstallParams
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import NoParams
from include.launch.plugins.target import Target
from include.monitoring import client, dashboards, prometheus_config, promql
from include.monitoring.alertmanager_config import SLACK_SECRET
from include.monitoring.bundle import render_bundle, validate, write_files
from include.monitoring.publish import load_published
from include.monitoring.settings import MonitoringSettings, load_settings

TEST_ALERT = "LaunchMonitoringTestAlert"
TEST_ALERT_SEVERITY = "P2"  # a test must not page anyone or block the next phase's P0/P1 gate
NOTIFY_COUNTERS = ("alertmanager_notifications_total", "alertmanager_notifications_failed_total")
POLL_SECONDS = 1.0


def monitoring_config_valid(run: PhaseRun, params: NoParams) -> CheckResult:
    settings = load_settings(run.spec.plan)
    replicas = Target.from_connection(run.spec.plan.connections.target_api).replicas
    with tempfile.TemporaryDirectory(prefix="monitoring-check-") as scratch:
        prometheus_dir, alertmanager_dir = Path(scratch) / "prometheus", Path(scratch) / "alertmanager"
        bundle = render_bundle(run.spec.plan, replicas, settings, prometheus_dir, alertmanager_dir)
        write_files(bundle.files(prometheus_dir, alertmanager_dir))
        write_files({alertmanager_dir / SLACK_SECRET: "https://placeholder.invalid/\n"})
        results = validate(prometheus_dir, alertmanager_dir, bundle)
        uncovered = dashboards.missing_metrics(
            run.spec.plan, [dashboards.dashboard(run.spec.plan, name) for name in _install_params(run).dashboards])
    reachable = {}
    for name, url in (("prometheus", settings.prometheus_url), ("alertmanager", settings.alertmanager_url)):
        try:
            reachable[name] = "ready" if client.ready(url) else "not ready"
        except requests.RequestException as exc:
            reachable[name] = f"unreachable: {type(exc).__name__}"
    measured = {"tools": [{"command": " ".join(r.command), "ok": r.ok, "output": r.output} for r in results],
                "rules": bundle.rule_set.names(), "not_alertable": bundle.rule_set.not_alertable,
                "dashboards_missing_metrics": uncovered, "reachable": reachable}
    evidence = [run.evidence.write_json("monitoring_config_validation.json", measured, replace=True)]
    refused = [f"{' '.join(r.command[:3])}: {r.output}" for r in results if not r.ok]
    if uncovered:
        refused.append(f"dashboards show no panel for required metric(s) {uncovered}")
    if refused:
        return CheckResult(Outcome.FAILED, "; ".join(refused), measured, evidence=evidence)
    down = {name: state for name, state in reachable.items() if state != "ready"}
    if down:
        return CheckResult(Outcome.ERROR, f"config valid, but cannot reach {down}", measured, evidence=evidence)
    summary = (f"promtool and amtool accept {len(bundle.rule_set.rules)} rule(s) and the routing; "
               "Prometheus and Alertmanager ready")
    return CheckResult(Outcome.SUCCESSFUL, summary, measured, evidence=evidence)


def monitoring_live(run: PhaseRun, params: NoParams) -> CheckResult:
    settings = load_settings(run.spec.plan)
    try:
        return _verify_live(run, settings)
    except requests.RequestException as exc:
        return CheckResult(Outcome.ERROR, f"could not measure: monitoring unreachable ({type(exc).__name__}: {exc})")


def _install_params(run: PhaseRun) -> MonitoringInstallParams:
    change = run.spec.change_params
    profile = run.spec.plan.target_profile
    every = sorted(profile.monitoring.dashboards) if profile is not None else []
    return change if isinstance(change, MonitoringInstallParams) else MonitoringInstallParams(dashboards=every)


def _verify_live(run: PhaseRun, settings: MonitoringSettings) -> CheckResult:
    replicas = Target.from_connection(run.spec.plan.connections.target_api).replicas
    bundle = render_bundle(run.spec.plan, replicas, settings, Path(settings.prometheus_dir),
                           Path(settings.alertmanager_dir))
    deadline = time.monotonic() + settings.verify_timeout_seconds
    problems: list[str] = []
    evidence: list[EvidenceRef] = []

    rules = _until(deadline, lambda: _rules_state(settings, bundle.rule_set.names()), lambda r: not r["problems"])
    evidence.append(run.evidence.write_json("rules_loaded.json", rules))
    problems += rules["problems"]

    expected_targets = client.static_targets(yaml.safe_load(bundle.prometheus[prometheus_config.CONFIG_FILE]))
    targets = _until(deadline, lambda: _targets_state(settings, expected_targets), lambda t: not t["problems"])
    evidence.append(run.evidence.write_json("targets_up.json", targets))
    problems += targets["problems"]

    metrics = _until(deadline, lambda: _metrics_state(run, settings), lambda m: not m["problems"])
    evidence.append(run.evidence.write_json("metrics_present.json", metrics))
    problems += metrics["problems"]

    install = _install_params(run)
    if install.test_alert:
        delivery = _test_alert(run, settings, deadline)
        evidence.append(run.evidence.write_json("test_alert_delivery.json", delivery))
        evidence.append(run.evidence.write_json("test_alert_evidence.json", delivery["alert"]))
        problems += delivery["problems"]

    boards = _dashboards_state(run, settings, install.dashboards)
    evidence.append(run.evidence.write_json("dashboards.json", boards))
    problems += boards["problems"]

    measured = {"rules": len(rules["rules"]), "targets": len(targets["targets"]),
                "metrics_present": sum(1 for m in metrics["metrics"].values() if m["series"]),
                "dashboards": len(boards["dashboards"]), "problems": problems}
    evidence.append(_write_report(run, measured, rules, targets, metrics, boards))
    if problems:
        return CheckResult(Outcome.FAILED, "; ".join(problems), measured, evidence=evidence)
    return CheckResult(Outcome.SUCCESSFUL, f"{measured['rules']} rule(s) loaded, {measured['targets']} target(s) up, "
                                           f"{measured['metrics_present']} required metric(s) with data, test alert "
                                           f"delivered, {measured['dashboards']} dashboard(s) valid",
                       measured, evidence=evidence)


def _until(deadline: float, measure: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]
           ) -> dict[str, Any]:
    """Measure until done or the deadline: a fresh install needs a few scrapes and evaluations."""
    while True:
        state = measure()
        if done(state) or time.monotonic() >= deadline:
            return state
        time.sleep(POLL_SECONDS)


def _rules_state(settings: MonitoringSettings, expected: list[str]) -> dict[str, Any]:
    loaded = client.loaded_rules(settings.prometheus_url)
    missing = [name for name in expected if name not in loaded]
    unhealthy = [f"{name} ({loaded[name]['health']}: {loaded[name]['last_error']})" for name in expected
                 if name in loaded and loaded[name]["health"] != "ok"]
    problems = ([f"rule(s) not loaded: {missing}"] if missing else []) + (
        [f"rule(s) not evaluating cleanly: {unhealthy}"] if unhealthy else [])
    return {"expected": expected, "rules": {name: loaded[name] for name in expected if name in loaded},
            "problems": problems}


def _targets_state(settings: MonitoringSettings, expected: dict[str, list[str]]) -> dict[str, Any]:
    """Every scrape target of the installed config up, judged only on Prometheus's state since it loaded
    that config.

    Right after /-/reload Prometheus already runs the new config, but its scrape manager keeps showing
    the previous target list for a few seconds (discovery updates are batched), and a target kept from
    the previous config still carries the health of its last scrape under that config. So: the running
    config must be the installed one, the active targets must be exactly the installed ones, and each
    must have been scraped, successfully, after the last successful reload. Until then nothing is
    "up"; at the deadline it is a failure, never a pass on stale state.
    """
    running = client.loaded_scrape_targets(settings.prometheus_url)
    reload = client.last_reload(settings.prometheus_url)
    targets = client.active_targets(settings.prometheus_url)
    problems: list[str] = []
    if not reload["successful"]:
        problems.append("Prometheus's last config reload failed: it is not running the installed config")
    if running != expected:
        problems.append(f"Prometheus is not running the installed scrape config: it scrapes {running}, "
                        f"the installed config says {expected}")
    wanted = {(job, address) for job, addresses in expected.items() for address in addresses}
    active = {(t["pool"], t["address"]): t for t in targets}
    loaded_at = reload["at"] or 0.0
    not_up = [f"{job}/{address} (not in Prometheus's active targets yet)" for job, address in sorted(wanted)
              if (job, address) not in active]
    for key in sorted(wanted & set(active)):
        target = active[key]
        scraped = client.scrape_timestamp(target["last_scrape"])
        if target["health"] != "up":
            error = f": {target['last_error']}" if target["last_error"] else ""
            not_up.append(f"{key[0]}/{key[1]} ({target['health']}{error})")
        elif scraped is None or scraped < loaded_at:
            not_up.append(f"{key[0]}/{key[1]} (not scraped since the config was loaded)")
        target["scraped_since_reload"] = scraped is not None and scraped >= loaded_at
    if not_up:
        problems.append(f"scrape target(s) not up: {not_up}")
    stale = sorted(f"{job}/{address}" for job, address in set(active) - wanted)
    if stale:
        problems.append(f"scrape target(s) of a previous config still active: {stale}")
    if not wanted:
        problems.append("no scrape targets")
    return {"expected": expected, "running_config": running, "last_reload": reload, "targets": targets,
            "problems": problems}


def _metrics_state(run: PhaseRun, settings: MonitoringSettings) -> dict[str, Any]:
    job = run.spec.launch_id
    profile = run.spec.plan.target_profile
    found = {}
    for area, names in (profile.monitoring.required_metrics if profile is not None else {}).items():
        for name in names:
            series = client.query(settings.prometheus_url, f"count({name}{{{promql.selector(job)}}})")
            found[name] = {"area": area, "series": int(float(series[0]["value"][1])) if series else 0}
    missing = [name for name, state in found.items() if not state["series"]]
    problems = [f"required metric(s) without data: {missing}"] if missing else []
    return {"job": job, "metrics": found, "problems": problems}


def _slack_counts(settings: MonitoringSettings) -> dict[str, float]:
    counts = client.counters(settings.alertmanager_url, NOTIFY_COUNTERS)
    return {name: sum(v for key, v in counts.items() if key.startswith(name + "{") and "integration=slack" in key)
            for name in NOTIFY_COUNTERS}


def _test_alert(run: PhaseRun, settings: MonitoringSettings, deadline: float) -> dict[str, Any]:
    """Send one alert through Alertmanager and wait until its Slack integration reports a delivery."""
    before = _slack_counts(settings)
    now = datetime.now(UTC)
    alert = {"labels": {"alertname": TEST_ALERT, "severity": TEST_ALERT_SEVERITY, "launch": run.spec.launch_id,
                        "phase": run.spec.phase.id, "run_id": run.run_id},
             "annotations": {"summary": f"Test alert of {run.spec.phase.id}: delivery check, no action needed",
                             "runbook": "P2: document. Sent by the launch pipeline's monitoring_live check."},
             "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}
    client.post_alerts(settings.alertmanager_url, [alert])
    after = _until(max(deadline, time.monotonic() + 30), lambda: _slack_counts(settings),
                   lambda c: c[NOTIFY_COUNTERS[0]] > before[NOTIFY_COUNTERS[0]]
                   or c[NOTIFY_COUNTERS[1]] > before[NOTIFY_COUNTERS[1]])
    sent = after[NOTIFY_COUNTERS[0]] - before[NOTIFY_COUNTERS[0]]
    failed = after[NOTIFY_COUNTERS[1]] - before[NOTIFY_COUNTERS[1]]
    problems = []
    if failed:
        problems.append(f"test alert: Alertmanager's Slack integration failed {failed:g} time(s)")
    elif not sent:
        problems.append("test alert: Alertmanager sent no Slack notification before the deadline")
    client.post_alerts(settings.alertmanager_url, [{**alert, "endsAt": datetime.now(UTC).isoformat()}])
    return {"alert": alert, "counters_before": before, "counters_after": after, "slack_notifications_sent": sent,
            "slack_notifications_failed": failed, "delivered": sent > 0 and not failed, "problems": problems}


def _dashboards_state(run: PhaseRun, settings: MonitoringSettings, names: list[str]) -> dict[str, Any]:
    published = load_published(run.spec.plan, settings, names)
    problems, report = [], {}
    valid = [doc for doc in published.values() if isinstance(doc, dict)]
    for name, document in published.items():
        if isinstance(document, str):
            problems.append(f"dashboard {name} unreadable: {document}")
            report[name] = {"valid": False, "error": document}
            continue
        panels = []
        for expr in dashboards.expressions(document):
            live = expr.replace(dashboards.RATE, settings.rate_window)
            panels.append({"expr": expr, "has_data": bool(client.query(settings.prometheus_url, live))})
        with_data = sum(1 for panel in panels if panel["has_data"])
        if not with_data:
            problems.append(f"dashboard {name} shows no data")
        report[name] = {"valid": True, "uid": document.get("uid"), "title": document.get("title"),
                        "panels": panels, "panels_with_data": with_data}
    uncovered = dashboards.missing_metrics(run.spec.plan, valid)
    if uncovered:
        problems.append(f"dashboards show no panel for {uncovered}")
    return {"dashboards": report, "missing_metrics": uncovered, "problems": problems}


def _write_report(run: PhaseRun, measured: dict[str, Any], rules: dict[str, Any], targets: dict[str, Any],
                  metrics: dict[str, Any], boards: dict[str, Any]) -> EvidenceRef:
    moment = datetime.now(UTC)
    verdict = "PASS" if not measured["problems"] else "FAIL"
    lines = [f"# Monitoring setup verification: {run.spec.plan.launch.name}", "",
             f"- Run `{run.run_id}`, {moment.isoformat(timespec='seconds')}; verdict **{verdict}**", "",
             "| Check | Result |", "|---|---|",
             f"| Alert rules loaded | {len(rules['rules'])} of {len(rules['expected'])} |",
             f"| Scrape targets up | {sum(t['health'] == 'up' for t in targets['targets'])} of "
             f"{len(targets['targets'])} |",
             f"| Required metrics with data | {measured['metrics_present']} of {len(metrics['metrics'])} |",
             f"| Dashboards valid | {measured['dashboards']} ({', '.join(boards['dashboards'])}) |", ""]
    lines += [f"- problem: {problem}" for problem in measured["problems"]]
    lines += ["", "Evidence: rules_loaded.json, targets_up.json, metrics_present.json, test_alert_delivery.json, "
              "test_alert_evidence.json, dashboards.json.", ""]
    return run.evidence.write_text(f"monitoring_setup_verification_{moment:%Y%m%dT%H%M%S}.md", "\n".join(lines))
