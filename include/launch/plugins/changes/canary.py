"""Canary deployment through a weighted proxy: deploy the new version to the canary group, shift
traffic step by step (10 % -> 50 % -> 100 %), analyse the canary at every step, roll back by
sending all traffic to the stable group.

Everything about the target comes from its connection's extra:

- ``proxy``: ``url``, ``upstream_file`` (the ``upstream app { ... }`` block this applier writes),
  ``reload_command`` (argv; tests the config, then reloads: nginx ``-t && -s reload``);
- ``groups.stable`` / ``groups.canary``: ``replicas`` (URLs), ``env_file``, ``restart_command``
  (argv with ``{index}``): a version is deployed by writing the target profile's
  ``version.setting`` and restarting;
- ``releases_file``: JSON ``{"known_good": [...]}``, the versions kept for rollback.

Which version answers is read where the target profile says (``version.header``: the proxy's
responses tell it per request). Analysis uses the phase's rollback triggers on the canary group's
own metrics (crash-free users, p95, error rate), so a bad version is caught on the share of
traffic it gets. The stable group keeps running
at 100 %: rollback is a proxy reload, verified by probing through the proxy.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
from airflow.sdk.exceptions import AirflowFailException

from include.launch.core.config_files import config_file, write_config
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan.profile import TargetProfile
from include.launch.plugins.changes.catalog import CanaryParams
from include.launch.plugins.changes.env_file import read_env, render_env

PROBES = 40
SHARE_TOLERANCE_PERCENT = 15.0


@dataclass(frozen=True)
class Group:
    replicas: list[str]
    env_file: str
    restart_command: list[str]

    @classmethod
    def from_extra(cls, data: dict[str, Any], name: str) -> Group:
        if not data.get("replicas"):
            raise AirflowFailException(f"target connection: extra.groups.{name}.replicas is missing")
        return cls([str(u).rstrip("/") for u in data["replicas"]], str(data.get("env_file") or ""),
                   [str(p) for p in data.get("restart_command") or []])

    def addresses(self) -> list[str]:
        return [urlparse(url).netloc for url in self.replicas]


@dataclass(frozen=True)
class Topology:
    proxy_url: str
    upstream_file: Any  # a Path or an ObjectStoragePath (include.launch.core.config_files)
    reload_command: list[str]
    stable: Group
    canary: Group
    releases_file: Any | None
    profile: TargetProfile

    @classmethod
    def from_run(cls, run: PhaseRun) -> Topology:
        from include.launch.plugins.checks.service_probe import target_extra

        extra = target_extra(run)
        profile = run.spec.plan.target_profile
        if profile is None or not profile.version.header or not profile.version.setting:
            raise AirflowFailException("target_profile.version needs header (how a response tells its version) and "
                                       "setting (the env setting that deploys one) for a canary")
        proxy, groups = extra.get("proxy") or {}, extra.get("groups") or {}
        if not proxy.get("url") or not proxy.get("upstream_file") or not proxy.get("reload_command"):
            raise AirflowFailException("target connection: extra.proxy needs url, upstream_file and reload_command")
        return cls(str(proxy["url"]).rstrip("/"), config_file(proxy["upstream_file"]),
                   [str(p) for p in proxy["reload_command"]],
                   Group.from_extra(groups.get("stable") or {}, "stable"),
                   Group.from_extra(groups.get("canary") or {}, "canary"),
                   config_file(extra["releases_file"]) if extra.get("releases_file") else None, profile)


def upstream_block(stable: list[str], canary: list[str], percent: int, note: str) -> str:
    """Weights per server so the groups get (100 - percent) % and percent % of requests."""
    servers = [(a, (100 - percent) * len(canary)) for a in stable] + [(a, percent * len(stable)) for a in canary]
    lines = [f"# {note}", "upstream app {"]
    lines += [f"    server {address} weight={weight} max_fails=0;" for address, weight in servers if weight > 0]
    return "\n".join([*lines, "    keepalive 64;", "}", ""])


class CanaryApplier:
    def __init__(self, params: CanaryParams) -> None:
        self.params = params
        self.log: list[str] = []

    # -- contract ---------------------------------------------------------------------------
    def snapshot(self, run: PhaseRun) -> dict[str, Any]:
        topo = Topology.from_run(run)
        stable_versions = sorted({self._version(topo, url) for url in topo.stable.replicas})
        if len(stable_versions) != 1:
            raise AirflowFailException(f"the stable group runs {stable_versions}: not one known-good version")
        known_good = self._known_good(topo)
        snapshot = {"upstream": topo.upstream_file.read_text(), "stable_version": stable_versions[0],
                    "canary_env": read_env(config_file(topo.canary.env_file)).get(topo.profile.version.setting)
                    if topo.canary.env_file
                    else None, "known_good": known_good, "shares": self._shares(topo)}
        run.evidence.write_json("pre_change_traffic.json", snapshot, replace=True)
        if len(known_good) < self.params.stable_versions_kept:
            raise AirflowFailException(f"only {len(known_good)} known-good version(s) kept for rollback {known_good}; "
                                       f"the plan requires {self.params.stable_versions_kept}")
        return snapshot

    def apply(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        topo = Topology.from_run(run)
        steps: list[dict[str, Any]] = []
        try:
            self._deploy(topo, self.params.version)
            step_seconds = self.params.total_minutes * 60 / len(self.params.steps_percent)
            for percent in self.params.steps_percent:
                self._shift(topo, percent, f"canary {self.params.version}: {percent} %")
                shares = self._shares(topo)
                step: dict[str, Any] = {"percent": percent, "shares": shares}
                self._note(f"{percent} %: measured shares through the proxy {shares}")
                self._check_shares(shares, percent, snapshot["stable_version"])
                steps.append(step)
                analysis = self._analyse(run, topo, percent, step_seconds)
                step["analysis"] = analysis
                self._note(f"{percent} %: analysis passed ({len(analysis)} sample(s))")
        finally:
            run.evidence.write_json("canary_steps.json", {"version": self.params.version, "steps": steps,
                                                          "log": self.log}, replace=True)
        known_good = self._promote(topo, self.params.version)
        after = {"version": self.params.version, "steps": [s["percent"] for s in steps], "known_good": known_good,
                 "shares": self._shares(topo)}
        run.evidence.write_json("canary_analysis.json", {"steps": steps, "result": "promoted"}, replace=True)
        return after

    def read_back(self, run: PhaseRun) -> dict[str, Any]:
        topo = Topology.from_run(run)
        return {"shares": self._shares(topo), "upstream": topo.upstream_file.read_text()}

    def revert(self, run: PhaseRun, snapshot: dict[str, Any]) -> dict[str, Any]:
        """All traffic back on the stable group; verified by probing through the proxy."""
        topo = Topology.from_run(run)
        self.log = []
        self._note(f"rollback: restoring the upstream ({snapshot['stable_version']} only) and reloading the proxy")
        write_config(topo.upstream_file, snapshot["upstream"])
        self._reload(topo)
        shares = self._shares(topo, probes=PROBES * 2)
        run.evidence.write_json("rollback_traffic.json", {"shares": shares, "log": self.log}, replace=True)
        if set(shares) != {snapshot["stable_version"]}:
            raise AirflowFailException(f"rollback not verified: traffic through the proxy still reaches {shares}")
        return {"shares": shares, "stable_version": snapshot["stable_version"]}

    # -- steps ------------------------------------------------------------------------------
    def _deploy(self, topo: Topology, version: str) -> None:
        group = topo.canary
        if not group.env_file or not group.restart_command:
            raise AirflowFailException("extra.groups.canary needs env_file and restart_command to deploy")
        path = config_file(group.env_file)
        write_config(path, render_env(path, {topo.profile.version.setting: version}))
        for index, url in enumerate(group.replicas):
            command = [part.format(index=index) for part in group.restart_command]
            self._note(f"deploy {version} to canary replica {index} ({url})")
            result = subprocess.run(command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                                    timeout=self.params.health_timeout_seconds + 30)
            if result.returncode != 0:
                raise AirflowFailException(f"canary replica {index}: restart exited {result.returncode}: "
                                           f"{result.stderr.strip()[-300:]}")
            deadline = time.monotonic() + self.params.health_timeout_seconds
            while self._version(topo, url) != version:
                if time.monotonic() > deadline:
                    raise AirflowFailException(f"canary replica {index} does not report {version}")
                time.sleep(0.3)

    def _shift(self, topo: Topology, percent: int, note: str) -> None:
        write_config(topo.upstream_file, upstream_block(topo.stable.addresses(), topo.canary.addresses(),
                                                            percent, note))
        self._reload(topo)

    def _reload(self, topo: Topology) -> None:
        result = subprocess.run(topo.reload_command, capture_output=True, text=True, timeout=30, check=False,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise AirflowFailException(f"proxy reload failed: {result.stderr.strip()[-300:]}")
        self._note("proxy reloaded")
        time.sleep(0.5)  # old workers finish their requests; new connections use the new upstream

    def _analyse(self, run: PhaseRun, topo: Topology, percent: int, seconds: float) -> list[dict[str, Any]]:
        from include.launch.plugins.checks.service_probe import interval_values, scrape

        interval = min(self.params.analysis_interval_seconds, seconds)
        samples: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        previous = scrape(run, topo.canary.replicas)
        while True:
            time.sleep(max(min(interval, deadline - time.monotonic()), 0.5))
            current = scrape(run, topo.canary.replicas)
            values = interval_values(run, previous, current)
            previous = current
            conclusive = (values.get("requests_in_interval") or 0) >= self.params.min_requests
            breached = [f"{t} (measured {values[t.metric.value]:g})" for t in run.spec.phase.rollback_triggers
                        if conclusive and values.get(t.metric.value) is not None
                        and t.applies(values) and t.holds(float(values[t.metric.value] or 0))]
            samples.append({"at_percent": percent, "values": values, "conclusive": conclusive, "breached": breached})
            if breached:
                self._note(f"{percent} %: ROLLBACK TRIGGER {'; '.join(breached)}")
                run.record("canary_analysis", "failed", {"summary": f"canary {self.params.version} at {percent} %: "
                                                         + "; ".join(breached), "percent": percent, "values": values})
                run.evidence.write_json("canary_analysis.json", {"result": "rollback", "percent": percent,
                                                                 "samples": samples}, replace=True)
                raise AirflowFailException(f"canary {self.params.version} at {percent} %: {'; '.join(breached)}")
            if time.monotonic() >= deadline:
                break
        if not any(sample["conclusive"] for sample in samples):
            run.record("canary_analysis", "failed", {"summary": f"canary at {percent} %: fewer than "
                                                     f"{self.params.min_requests} requests per sample: inconclusive"})
            raise AirflowFailException(f"canary at {percent} %: analysis inconclusive (too little traffic); failing "
                                       "safe")
        run.record("canary_analysis", "successful", {"percent": percent, "samples": samples})
        return samples

    # -- helpers ----------------------------------------------------------------------------
    def _check_shares(self, shares: dict[str, int], percent: int, stable: str) -> None:
        total = sum(shares.values()) or 1
        on_canary = shares.get(self.params.version, 0) / total * 100
        if abs(on_canary - percent) > SHARE_TOLERANCE_PERCENT:
            raise AirflowFailException(f"the proxy sends {on_canary:.0f} % to {self.params.version}, expected "
                                       f"{percent} % (shares {shares}; stable {stable})")

    def _shares(self, topo: Topology, probes: int = PROBES) -> dict[str, int]:
        """Versions answering ``probes`` fresh requests through the proxy (the profile's version header)."""
        from include.launch.plugins.checks.health import read_version

        counts: Counter[str] = Counter()
        for _ in range(probes):
            try:
                counts[read_version(topo.proxy_url, topo.profile) or "unknown"] += 1
            except (requests.RequestException, ValueError) as exc:
                counts[type(exc).__name__] += 1
        return dict(counts)

    @staticmethod
    def _version(topo: Topology, url: str) -> str:
        from include.launch.plugins.checks.health import read_version

        try:
            return read_version(url, topo.profile)
        except (requests.RequestException, ValueError):
            return ""

    def _known_good(self, topo: Topology) -> list[str]:
        if topo.releases_file is None or not topo.releases_file.exists():
            return []
        return list(json.loads(topo.releases_file.read_text()).get("known_good", []))

    def _promote(self, topo: Topology, version: str) -> list[str]:
        known = [v for v in self._known_good(topo) if v != version] + [version]
        if topo.releases_file is not None:
            write_config(topo.releases_file, json.dumps({"known_good": known}, indent=2) + "\n")
        return known

    def _note(self, message: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {message}")


def canary_traffic_shift(params: CanaryParams) -> CanaryApplier:
    return CanaryApplier(params)
