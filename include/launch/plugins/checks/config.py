"""Production configuration matches the example: every key of the example is set, in the target's
env file or in the secrets backend (where secrets belong), and the required keys are non-empty."""

from __future__ import annotations

from pathlib import Path

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import PROJECT_ROOT
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import ConfigMatchesParams
from include.launch.plugins.checks.security import _env_values
from include.launch.plugins.checks.service_probe import secret
from include.launch.plugins.target import Target


def config_matches(run: PhaseRun, params: ConfigMatchesParams) -> CheckResult:
    example_path = Path(params.example_file)
    if not example_path.is_absolute():
        example_path = PROJECT_ROOT / example_path
    if not example_path.exists():
        return CheckResult(Outcome.FAILED, f"example config {params.example_file} does not exist")
    example = _env_values(str(example_path))
    production = _env_values(Target.from_connection(run.spec.plan.connections.target_api).env_file)
    where: dict[str, str] = {}
    for key in sorted(set(example) | set(params.required_keys)):
        if production.get(key):
            where[key] = "env file"
        elif secret(key):
            where[key] = "secrets backend"
        else:
            where[key] = "missing"
    missing = [key for key, source in where.items() if source == "missing"]
    measured = {"example": str(example_path), "keys": where}
    evidence = [run.evidence.write_json("config_matches.json", measured, replace=True)]
    if missing:
        return CheckResult(Outcome.FAILED, f"production config lacks {missing} (set in neither the env file nor "
                                           "the secrets backend)", measured, evidence=evidence)
    return CheckResult(Outcome.SUCCESSFUL, f"all {len(where)} keys of the example set "
                                           f"({sum(1 for s in where.values() if s == 'secrets backend')} from the "
                                           "secrets backend)", measured, evidence=evidence)
