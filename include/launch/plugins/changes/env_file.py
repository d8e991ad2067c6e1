"""Settings changes through the target's env file, activated replica by replica.

The env file is a local path or an object-store URL (include.launch.core.config_files), so the worker
needs no disk in common with the target. Two activations share everything else: a rolling
restart (``env_file_rolling_restart``: the connection's restart_command per replica) or an HTTP
hot reload (``http_hot_reload``: POST /admin/reload with the admin token). Each replica must
report the new values on its health endpoint (read where the target profile says), and be ready by
the profile's rule (a pool warmed to its minimum: a cold pool makes verification's p95 pay for
connection set-up), before the next one is touched, so a failure leaves at most one replica
changed, and revert restores the snapshot on all of them.
"""

from __future__ import annotations

import difflib
import subprocess
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.config_files import config_file, write_config
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan.profile import HealthProfile
from include.launch.plugins.changes.catalog import SettingsChangeParams
from include.launch.plugins.checks.health import (
    health_profile,
    is_ready,
    read_health,
    readiness,
    running_settings,
    settings_match,
)
from include.launch.plugins.target import Target


def read_env(path: Any) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def render_env(path: Any, updates: Mapping[str, str | None]) -> str:
    """The file with ``updates`` applied in place (``None``: the key removed, as it was before a
    change added it); other lines and comments untouched."""
    lines, seen = [], set()
    for line in path.read_text().splitlines():
        key = line.partition("=")[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in updates:
            seen.add(key)
            if updates[key] is not None:
                lines.append(f"{key}={updates[key]}")
        else:
            lines.append(line)
    lines += [f"{key}={value}" for key, value in updates.items() if key not in seen and value is not None]
    return "\n".join(lines) + "\n"


class EnvFileApplier:
    """Apply / read back / revert settings in the env file; ``activation`` is restart or reload."""

    def __init__(self, params: SettingsChangeParams, activation: str) -> None:
        self.params = params
        self.activation = activation
        self.log: list[str] = []

    # -- contract ---------------------------------------------------------------------------
    def snapshot(self, run: PhaseRun) -> dict[str, Any]:
        target = self._target(run)
        current = read_env(config_file(target.env_file))
        snapshot: dict[str, Any] = {"env": {key: current.get(key) for key in self.params.settings},
                                    "replicas": self.read_back(run)}
        documented = {k: str(v) for k, v in self.params.documented_before.items()}
        snapshot["documented_before_matches"] = all(snapshot["env"].get(k) == v for k, v in documented.items())
        run.evidence.write_json("pre_change_config.json", snapshot)
        return snapshot

    def apply(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        target = self._target(run)
        desired = {key: str(value) for key, value in self.params.settings.items()}
        path = config_file(target.env_file)
        new_text = render_env(path, desired)
        diff = difflib.unified_diff(path.read_text().splitlines(), new_text.splitlines(),
                                    fromfile=f"{path.name} (before)", tofile=f"{path.name} (after)", lineterm="")
        run.evidence.write_text("config_diff.txt", "\n".join(diff) + "\n")
        self._note(f"writing {len(desired)} setting(s) to {path.name}")
        write_config(path, new_text)
        try:
            self._activate_all(run, target, desired)
        finally:
            run.evidence.write_text("deployment_log.txt", "\n".join(self.log) + "\n")
            run.evidence.write_text("restart_log.txt", "\n".join(line for line in self.log if "replica" in line) + "\n")
        after = self.read_back(run)
        run.evidence.write_json("post_change_config.json", {"env": desired, "replicas": after})
        return {"env": desired, "replicas": after}

    def read_back(self, run: PhaseRun) -> dict[str, Any]:
        """Each replica's running settings, as its health endpoint reports them."""
        profile = health_profile(run)
        return {url: running_settings(state, profile) for url, state in read_health(self._target(run), profile).items()}

    def revert(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        target = self._target(run)
        previous = {key: value for key, value in snapshot["env"].items() if value is not None}
        added = [key for key, value in snapshot["env"].items() if value is None]  # absent before the change
        path = config_file(target.env_file)
        self.log = []
        self._note(f"rollback: restoring {previous} in {path.name}" + (f", removing {added}" if added else ""))
        write_config(path, render_env(path, {**previous, **dict.fromkeys(added)}))
        try:
            self._activate_all(run, target, previous)
        finally:
            run.evidence.write_text("rollback_log.txt", "\n".join(self.log) + "\n")
        restored = self.read_back(run)
        wrong = [f"{url}: {running}" for url, running in restored.items()
                 if any(str(running[key]) != str(value) for key, value in previous.items() if key in running)]
        if wrong:
            raise AirflowFailException(f"rollback not verified: replicas still differ from the snapshot: {wrong}")
        return {"env": previous, "replicas": restored}

    # -- helpers ----------------------------------------------------------------------------
    def _target(self, run: PhaseRun) -> Target:
        target = Target.from_connection(run.spec.plan.connections.target_api)
        if not target.env_file:
            raise AirflowFailException("target connection has no extra.env_file: cannot change settings")
        if self.activation == "restart" and not target.restart_command:
            raise AirflowFailException("target connection has no extra.restart_command for a rolling restart")
        return target

    def _note(self, message: str) -> None:
        self.log.append(f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {message}")

    def _activate_all(self, run: PhaseRun, target: Target, desired: dict[str, str]) -> None:
        for index, url in enumerate(target.replicas):
            started = time.monotonic()
            self._note(f"replica {index} ({url}): {self.activation} starting")
            try:
                self._activate(target, index, url)
                self._wait_for(target, health_profile(run), url, desired)
            except Exception as exc:
                self._note(f"replica {index} ({url}): {self.activation} FAILED: {exc}")
                raise AirflowFailException(f"replica {index} ({url}) did not take the change: {exc}") from exc
            self._note(f"replica {index} ({url}): healthy with new settings after "
                       f"{time.monotonic() - started:.1f} s")

    def _activate(self, target: Target, index: int, url: str) -> None:
        if self.activation == "restart":
            command = [part.format(index=index) for part in target.restart_command]
            # stdin=DEVNULL: a replica the command starts must not inherit the task's fd 0 (Airflow's comms
            # socket), or the task's supervisor waits 60 s for it to close after the task has finished.
            result = subprocess.run(command, capture_output=True, text=True, timeout=self.params.health_timeout_seconds
                                    + 30, check=False, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                raise RuntimeError(f"restart command exited {result.returncode}: {result.stderr.strip()[-300:]}")
        else:
            response = requests.post(f"{url}/admin/reload", headers=target.admin_headers(), timeout=target.timeout)
            if response.status_code != 200:
                raise RuntimeError(f"reload answered {response.status_code}")

    def _wait_for(self, target: Target, profile: HealthProfile, url: str, desired: dict[str, str]) -> None:
        deadline = time.monotonic() + self.params.health_timeout_seconds
        last: Any = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"{url}{profile.path}", timeout=target.timeout)
                state = {**response.json(), "http_status": response.status_code}
                last = {**running_settings(state, profile), **readiness(state, profile)}
                if response.status_code == 200 and settings_match(state, profile, desired) and is_ready(state, profile):
                    return
            except (requests.RequestException, ValueError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise TimeoutError(f"{profile.path} did not show the new settings and a ready replica within "
                           f"{self.params.health_timeout_seconds:g} s "
                           f"(last: {last})")


def env_file_rolling_restart(params: SettingsChangeParams) -> EnvFileApplier:
    return EnvFileApplier(params, activation="restart")


def http_hot_reload(params: SettingsChangeParams) -> EnvFileApplier:
    return EnvFileApplier(params, activation="reload")
