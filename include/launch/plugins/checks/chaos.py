"""Chaos test: take a dependency away for real, watch the service degrade gracefully, restore it,
and measure how long the service takes to recover.

The inject/restore commands come from the target connection (``extra.chaos.<fault>.inject`` /
``.restore``, argv lists): a local process stop in the demo, a ``kubectl scale``/network policy in
production. Graceful means: while the dependency is away every probe is answered (no refused
connection, no timeout, no 500; 200 from cache or 503 with a reason) and /health names the failed
dependency. Recovered means: /health ok on every replica and probes answered 200 again.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from typing import Any

import requests

from include.launch.core.errors import ConfigurationError
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import ChaosParams
from include.launch.plugins.checks.service_probe import (
    bearer,
    entry_url,
    identity,
    measurement_slot,
    target_extra,
    users_profile,
)
from include.launch.plugins.target import Target

GRACEFUL = {200, 503}
# What /health must say while the fault is active.
DEPENDENCY = {"database_down": ("database", "down"), "redis_down": ("redis", "down")}


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {result.returncode}: {result.stderr.strip()[-300:]}")
    return result.stdout.strip()[-300:]


def _probe(urls: list[str], headers: dict[str, str]) -> tuple[Counter[str], list[float]]:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    for url in urls:
        started = time.perf_counter()
        try:
            statuses[str(requests.get(url, headers=headers, timeout=5).status_code)] += 1
        except requests.RequestException as exc:
            statuses[type(exc).__name__] += 1
        latencies.append((time.perf_counter() - started) * 1000)
    return statuses, latencies


def _health(target: Target) -> list[dict[str, Any]]:
    bodies = []
    for url in target.replicas:
        try:
            bodies.append(requests.get(f"{url}/health", timeout=5).json())
        except (requests.RequestException, ValueError) as exc:
            bodies.append({"status": "unreachable", "error": str(exc)})
    return bodies


def _one_fault(run: PhaseRun, fault: str, commands: dict[str, list[str]], params: ChaosParams, target: Target,
               probes: list[str], headers: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {"fault": fault}
    before, _ = _probe(probes, headers)
    record["before"] = dict(before)
    record["inject_output"] = _run(commands["inject"])
    injected_at = time.monotonic()
    during: Counter[str] = Counter()
    slowest = 0.0
    reported = False
    try:
        while time.monotonic() - injected_at < params.observe_seconds:
            statuses, latencies = _probe(probes, headers)
            during.update(statuses)
            slowest = max([slowest, *latencies])
            component, state = DEPENDENCY.get(fault, ("", ""))
            if component and any((h.get(component) or {}).get("status") == state for h in _health(target)):
                reported = True
            time.sleep(0.2)
    finally:
        record["restore_output"] = _run(commands["restore"])
    restored_at = time.monotonic()
    recovered_after = None
    while time.monotonic() - restored_at < params.recovery_seconds:
        healthy = all(h.get("status") == "ok" for h in _health(target))
        statuses, _ = _probe(probes, headers)
        if healthy and set(statuses) == {"200"}:
            recovered_after = round(time.monotonic() - restored_at, 2)
            break
        time.sleep(0.5)
    ungraceful = {status: n for status, n in during.items() if not status.isdigit() or int(status) not in GRACEFUL}
    record.update({
        "during": dict(during), "served_ok_during": during.get("200", 0), "ungraceful": ungraceful,
        "slowest_ms_during": round(slowest, 1), "health_reported_fault": reported,
        "recovered_after_seconds": recovered_after, "graceful": not ungraceful and reported,
    })
    return record


def chaos(run: PhaseRun, params: ChaosParams) -> CheckResult:
    configured = target_extra(run).get("chaos") or {}
    missing = [fault for fault in params.faults
               if not isinstance(configured.get(fault), dict) or not {"inject", "restore"} <= set(configured[fault])]
    if missing:
        raise ConfigurationError(f"target connection has no extra.chaos inject/restore commands for {missing}")
    target = Target.from_connection(run.spec.plan.connections.target_api)
    who = identity(run)
    base = entry_url(run)
    probes = [base + who.fill(route.path) for route in users_profile(run).routes]
    headers = bearer(run, who.owner_id)
    records = []
    with measurement_slot(run):
        for fault in params.faults:
            records.append(_one_fault(run, fault, configured[fault], params, target, probes, headers))
    evidence = [run.evidence.write_json("chaos_test.json", {"params": params.model_dump(), "faults": records},
                                        replace=True)]
    problems = []
    for record in records:
        if record["ungraceful"]:
            problems.append(f"{record['fault']}: ungraceful answers {record['ungraceful']}")
        if not record["health_reported_fault"]:
            problems.append(f"{record['fault']}: /health never reported the failed dependency")
        if record["recovered_after_seconds"] is None:
            problems.append(f"{record['fault']}: not recovered within {params.recovery_seconds:g} s")
    measured = {"faults": records}
    if problems:
        return CheckResult(Outcome.FAILED, "chaos: " + "; ".join(problems), measured, evidence=evidence)
    parts = [f"{r['fault']}: {r['served_ok_during']} reads served while down, answers {r['during']}, "
             f"recovered in {r['recovered_after_seconds']:g} s" for r in records]
    return CheckResult(Outcome.SUCCESSFUL, "graceful degradation and recovery; " + "; ".join(parts), measured,
                       evidence=evidence)
