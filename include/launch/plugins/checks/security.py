"""Security gates: secrets come from the secrets backend with no fallback; HTTP answers as required."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import HttpExpectationParams, SecretsPresentParams
from include.launch.plugins.checks.service_probe import bearer, entry_url, identity, secret
from include.launch.plugins.target import Target

MIN_SECRET_LENGTH = 16


def _env_values(path: str) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path or not Path(path).exists():
        return values
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip().removeprefix("export ")] = value.strip().strip("'\"")
    return values


def secrets_present(run: PhaseRun, params: SecretsPresentParams) -> CheckResult:
    """Every name resolves from the secrets backend, none is a fallback value, the target's config
    holds no fallback, and every replica runs with the backend's JWT secret (fingerprint)."""
    problems: list[str] = []
    resolved: dict[str, Any] = {}
    forbidden = {value.lower() for value in params.forbidden_fallbacks}
    values: dict[str, str] = {}
    for name in params.names:
        value = secret(name)
        if not value:
            problems.append(f"{name} is not in the secrets backend")
            resolved[name] = "missing"
            continue
        values[name] = value
        weak = value.lower() in forbidden or (name == params.fingerprint_secret and len(value) < MIN_SECRET_LENGTH)
        resolved[name] = "fallback value" if weak else "resolved"
        if weak:
            problems.append(f"{name} from the secrets backend is a fallback/weak value")
    target = Target.from_connection(run.spec.plan.connections.target_api)
    config = _env_values(target.env_file)
    in_config = sorted(key for key, value in config.items() if value.lower() in forbidden)
    if in_config:
        problems.append(f"the target's config sets fallback secret values for {in_config}")
    fingerprints: dict[str, Any] = {}
    expected = values.get(params.fingerprint_secret or "")
    if params.fingerprint_secret and expected:
        import hashlib

        want = hashlib.sha256(expected.encode()).hexdigest()[:16]
        from include.launch.plugins.checks.health import field, health_profile

        path = health_profile(run).path
        for url in target.replicas:
            body = requests.get(f"{url}{path}", timeout=target.timeout).json()
            got = str(field(body, params.fingerprint_field) or "")
            fingerprints[url] = "matches" if got == want else ("not configured" if not got else "differs")
            if got != want:
                problems.append(f"{url} does not run with {params.fingerprint_secret} from the secrets backend "
                                f"({fingerprints[url]})")
    measured = {"secrets": resolved, "config_fallbacks": in_config, "replica_secret": fingerprints}
    evidence = [run.evidence.write_json(f"{run.task_id.split('.')[-1]}.json", measured, replace=True)]
    if problems:
        return CheckResult(Outcome.FAILED, "; ".join(problems), measured, evidence=evidence)
    return CheckResult(Outcome.SUCCESSFUL, f"{', '.join(params.names)} resolved from the secrets backend; no "
                                           "fallback secret in the target's config; every replica runs with the "
                                           "backend's JWT secret", measured, evidence=evidence)


def http_expectation(run: PhaseRun, params: HttpExpectationParams) -> CheckResult:
    """Send ``requests`` calls as ``auth``; one call must answer ``expect_status`` (all of them when
    ``requests`` is 1)."""
    who = identity(run)
    url = entry_url(run) + who.fill(params.route)
    headers: dict[str, str] = {}
    if params.auth == "owner":
        headers = bearer(run, who.owner_id)
    elif params.auth == "foreign_user":
        headers = bearer(run, who.foreign_user_id)
    body = {key: who.fill(str(value)) if isinstance(value, str) else value for key, value in params.body.items()}
    body = {key: int(value) if isinstance(value, str) and value.isdigit() else value for key, value in body.items()}
    statuses: Counter[int] = Counter()
    first_hit = None

    def call(_: int) -> int:
        return requests.request(params.method, url, headers=headers, json=body or None, timeout=10).status_code

    # A burst, as an abusive client sends it: sequential calls on a slow box may never outpace the limit.
    with ThreadPoolExecutor(max_workers=min(16, params.requests)) as pool:
        for index, status in enumerate(pool.map(call, range(params.requests))):
            statuses[status] += 1
            if status == params.expect_status and first_hit is None:
                first_hit = index + 1
    measured = {"url": url, "method": params.method, "auth": params.auth, "requests": params.requests,
                "statuses": {str(k): v for k, v in sorted(statuses.items())}, "first_expected_at": first_hit}
    evidence = [run.evidence.write_json(f"{run.task_id.split('.')[-1]}.json", measured, replace=True)]
    shown = ", ".join(f"{code} x{count}" for code, count in sorted(statuses.items()))
    what = f"{params.method} {params.route} as {params.auth} ({params.requests} call(s))"
    ok = first_hit is not None if params.requests > 1 else statuses.get(params.expect_status) == 1
    if not ok:
        return CheckResult(Outcome.FAILED, f"{what}: expected {params.expect_status}, got {shown}", measured,
                           evidence=evidence)
    where = f" from call {first_hit}" if params.requests > 1 else ""
    return CheckResult(Outcome.SUCCESSFUL, f"{what}: {params.expect_status}{where} ({shown})", measured,
                       evidence=evidence)
