"""The whole monitoring config of a launch as files, rendered for one destination folder pair.

The same function renders into a scratch folder for the pre-check (promtool/amtool) and into the
installed folders for the change, so what was validated is byte for byte what gets installed.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from include.launch.plan.models import Plan
from include.monitoring import alertmanager_config, prometheus_config, rules
from include.monitoring.settings import MonitoringSettings

RULES_FILE = f"{prometheus_config.RULES_FOLDER}/launch_alerts.yml"


@dataclass(frozen=True)
class Bundle:
    """prometheus: relative path -> text under the Prometheus folder; alertmanager: the same for
    Alertmanager; rule_set: the rendered rules (names are what verify expects loaded)."""

    prometheus: dict[str, str]
    alertmanager: dict[str, str]
    rule_set: rules.RuleSet

    def files(self, prometheus_dir: Path, alertmanager_dir: Path) -> dict[Path, str]:
        found = {prometheus_dir / name: text for name, text in self.prometheus.items()}
        found.update({alertmanager_dir / name: text for name, text in self.alertmanager.items()})
        return found


def _yaml(document: object) -> str:
    return "# Rendered by the launch pipeline (include/monitoring); edit the plan, not this file.\n" + yaml.safe_dump(
        document, sort_keys=False, width=200)


def render_bundle(plan: Plan, replicas: list[str], settings: MonitoringSettings, prometheus_dir: Path,
                  alertmanager_dir: Path) -> Bundle:
    job = plan.launch.id
    rule_set = rules.build_rules(plan, job, settings.rate_window)
    prometheus_files = {
        prometheus_config.CONFIG_FILE: _yaml(prometheus_config.prometheus_document(job, replicas, settings,
                                                                                   prometheus_dir)),
        RULES_FILE: _yaml(rules.rules_document(plan, rule_set)),
    }
    for index, path in enumerate(settings.extra_rules):
        prometheus_files[f"{prometheus_config.RULES_FOLDER}/extra_{index}_{Path(path).name}"] = Path(path).read_text()
    alertmanager_files = {alertmanager_config.CONFIG_FILE: _yaml(
        alertmanager_config.alertmanager_document(plan, settings, alertmanager_dir))}
    return Bundle(prometheus_files, alertmanager_files, rule_set)


def write_files(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@dataclass(frozen=True)
class ToolResult:
    """One validator run: the command, whether it accepted the input, and its own words."""

    command: list[str]
    ok: bool
    output: str


def run_tool(command: list[str], timeout: float = 60.0) -> ToolResult:
    """Run promtool/amtool; a missing binary is a configuration error, not a failed check."""
    from include.launch.core.errors import ConfigurationError

    executable = shutil.which(command[0]) or shutil.which(command[0], path="/usr/bin")
    if executable is None:
        raise ConfigurationError(f"{command[0]} not found: install the Debian packages prometheus and "
                                 "prometheus-alertmanager")
    result = subprocess.run([executable, *command[1:]], capture_output=True, text=True, timeout=timeout, check=False)
    return ToolResult(command, result.returncode == 0, (result.stdout + result.stderr).strip())


def validate(prometheus_dir: Path, alertmanager_dir: Path, bundle: Bundle) -> list[ToolResult]:
    """promtool check config (which also checks every rule file it loads), promtool check rules, and
    amtool check-config, on files already written to these folders."""
    rule_files = [str(prometheus_dir / name) for name in bundle.prometheus if name.startswith(
        prometheus_config.RULES_FOLDER + "/")]
    return [
        run_tool(["promtool", "check", "rules", *rule_files]),
        run_tool(["promtool", "check", "config",
                  str(prometheus_dir / prometheus_config.CONFIG_FILE)]),
        run_tool(["amtool", "check-config", str(alertmanager_dir / alertmanager_config.CONFIG_FILE)]),
    ]
