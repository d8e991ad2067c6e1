"""A concurrent-user load test with locust (headless, as a subprocess) against the target.

The measured part starts once every user runs (``--reset-stats``), so ramp-up does not dilute
the percentiles. Numbers come from locust's own CSV: request count, failures and the response
time percentiles over every request, plus the server's view of the same interval.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from include.launch.core.errors import ConfigurationError
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult, evaluate
from include.launch.plugins.checks.catalog import LoadTestParams
from include.launch.plugins.checks.service_probe import (
    entry_url,
    load_identities,
    measurement_slot,
    signing_key,
    users_profile,
)
from include.launch.plugins.target import Target

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def _aggregated(stats_csv: Path) -> dict[str, str]:
    with stats_csv.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("Name") == "Aggregated":
                return row
    raise RuntimeError(f"locust wrote no Aggregated row to {stats_csv}")


def _number(value: str | None) -> float | None:
    try:
        number = float(value or "")
    except ValueError:
        return None
    return None if math.isnan(number) else number


def run_locust(host: str, params: LoadTestParams, identities: list[dict[str, int]], signing: str,
               workdir: Path, routes: list[dict[str, Any]]) -> dict[str, Any]:
    """Run locust headless; return its aggregated figures (raises when locust itself fails)."""
    ids_file = workdir / "identities.json"
    ids_file.write_text(json.dumps(identities))
    ramp = params.users / params.spawn_rate
    total = math.ceil(ramp + params.duration_seconds)
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
               "-u", str(params.users), "-r", f"{params.spawn_rate:g}", "-t", f"{total}s", "--reset-stats",
               "--csv", str(workdir / "load"), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING",
               "--exit-code-on-error", "0", "--skip-log-setup"]
    env = {**os.environ, "LOAD_IDENTITIES": str(ids_file), "LOAD_SIGNING_KEY": signing,
           "LOAD_ROUTES": json.dumps(routes),
           "LOAD_WAIT_MIN": f"{params.wait_min_seconds:g}", "LOAD_WAIT_MAX": f"{params.wait_max_seconds:g}"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=total + 120, check=False,
                            stdin=subprocess.DEVNULL)
    stats = workdir / "load_stats.csv"
    if result.returncode != 0 or not stats.exists():
        raise RuntimeError(f"locust exited {result.returncode}: {result.stderr[-1500:]}")
    row = _aggregated(stats)
    count = _number(row.get("Request Count")) or 0.0
    failures = _number(row.get("Failure Count")) or 0.0
    return {
        "tool": "locust", "host": host, "users": params.users, "spawn_rate": params.spawn_rate,
        "ramp_seconds": round(ramp, 1), "measured_seconds": params.duration_seconds,
        "requests": int(count), "failures": int(failures),
        "error_rate_percent": failures / count * 100 if count else None,
        "latency_p50_ms": _number(row.get("50%")), "latency_p95_ms": _number(row.get("95%")),
        "latency_p99_ms": _number(row.get("99%")), "latency_max_ms": _number(row.get("Max Response Time")),
        "throughput_rps": _number(row.get("Requests/s")),
        "stderr_tail": result.stderr[-500:],
    }


def load_test(run: PhaseRun, params: LoadTestParams) -> CheckResult:
    users = users_profile(run)
    jwt_key = signing_key(run)
    identities = load_identities(run)
    if not identities:
        raise ConfigurationError("target_profile.users.load_identities_sql found nobody to act as")
    host = entry_url(run)
    target = Target.from_connection(run.spec.plan.connections.target_api)
    from include.launch.plugins.checks.service_probe import interval_values, scrape

    with measurement_slot(run), tempfile.TemporaryDirectory(prefix="load_test_") as folder:
        before = scrape(run, target.replicas)
        figures = run_locust(host, params, identities, jwt_key, Path(folder),
                             [route.model_dump() for route in users.routes])
        server = interval_values(run, before, scrape(run, target.replicas))
    values: dict[str, float | None] = {key: figures.get(key) for key in
                                       ("latency_p95_ms", "latency_p99_ms", "error_rate_percent")}
    results = evaluate(params.criteria, values)
    document = {**figures, "server_side": server, "criteria": [r.as_dict() for r in results]}
    evidence = [run.evidence.write_json("load_test.json", document, replace=True)]
    p95 = figures.get("latency_p95_ms")
    what = (f"{params.users} concurrent users for {params.duration_seconds:g} s with locust: "
            f"{figures['requests']} requests, p95 {'n/a' if p95 is None else f'{p95:g} ms'}, "
            f"errors {figures['error_rate_percent'] or 0:.2f} %")
    outcome = CheckResult.from_criteria(results, what=what, measured={"metrics": values, "load": figures},
                                        evidence=evidence)
    if outcome.outcome is Outcome.FAILED:
        return CheckResult(Outcome.FAILED, "NO-GO: " + outcome.summary, outcome.measured, outcome.criteria,
                           outcome.evidence)
    return outcome
