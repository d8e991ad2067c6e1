"""Settings changes through the target's env file, activated replica by replica.

The env file is a local path or an object-store URL (include.launch.core.config_files), so the worker
needs no disk in common with the target. Two activations share everything else: a rolling
restart (``env_file_rolling_restart``: the connection's restart_command per replica) or an HTTP
hot reload (``http_hot_reload``: POST /admin/reload with the admin token). Each replica must
report the new values on /health, with its pool warmed to its minimum (a readiness probe: a cold
pool makes verification's p95 pay for connection set-up), before the next one is touched, so a
failure leaves at most one replica changed, and revert restores the snapshot on all of them.
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
from include.launch.plugins.changes.catalog import POOL_MAX_KEY, POOL_MIN_KEY, SettingsChangeParams
from include.launch.plugins.checks.health import read_health
from include.launch.plugins.target import Target

HEALTH_KEYS = {POOL_MAX_KEY: "max", POOL_MIN_KEY: "min", "DB_POOL_IDLE_TIMEOUT": "idle_timeout_ms",
               "DB_POOL_CONNECTION_TIMEOUT": "connection_timeout_ms"}


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
                    "replicas": {url: s.get("pool") for url, s in read_health(target).items()}}
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
        return {url: state.get("pool") for url, state in read_health(self._target(run)).items()}

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
        wrong = [f"{url}: {pool}" for url, pool in restored.items() if not _pool_matches(pool, previous)]
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
                self._wait_for(target, url, desired)
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

    def _wait_for(self, target: Target, url: str, desired: dict[str, str]) -> None:
        deadline = time.monotonic() + self.params.health_timeout_seconds
        last: Any = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"{url}/health", timeout=target.timeout)
                last = response.json().get("pool")
                if response.status_code == 200 and _pool_matches(last, desired) and _pool_warm(last):
                    return
            except (requests.RequestException, ValueError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise TimeoutError("/health did not show the new settings and a warm pool within "
                           f"{self.params.health_timeout_seconds:g} s "
                           f"(last: {last})")


def _pool_matches(pool: Any, values: dict[str, str]) -> bool:
    if not isinstance(pool, dict):
        return False
    return all(str(pool.get(HEALTH_KEYS[key])) == str(value) for key, value in values.items() if key in HEALTH_KEYS)


def _pool_warm(pool: dict[str, Any]) -> bool:
    """The pool holds at least its minimum connections (a replica without the figure counts as warm)."""
    size, minimum = pool.get("size"), pool.get("min")
    return size is None or minimum is None or int(size) >= int(minimum)


def env_file_rolling_restart(params: SettingsChangeParams) -> EnvFileApplier:
    return EnvFileApplier(params, activation="restart")


def http_hot_reload(params: SettingsChangeParams) -> EnvFileApplier:
    return EnvFileApplier(params, activation="reload")
