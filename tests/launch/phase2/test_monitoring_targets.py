"""The targets part of monitoring_live against a real Prometheus, right after a reload.

For a few seconds after /-/reload Prometheus serves the previous config's target list (its discovery
updates are batched), with that config's health. Judging then would pass a config whose targets are
down: the Phase 2 integration test once passed verify with a dead replica this way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from include.devservices.prometheus import MonitoringStack, monitoring_stack
from include.launch.plugins.checks.monitoring import _targets_state, _until
from include.monitoring.settings import MonitoringSettings

DEAD = "127.0.0.1:9"  # nobody listens on the discard port


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[MonitoringStack]:
    with monitoring_stack(tmp_path / "monitoring") as running:
        yield running


def settings_for(stack: MonitoringStack) -> MonitoringSettings:
    return MonitoringSettings(stack.prometheus.url, str(stack.prometheus.config_dir), stack.alertmanager.url,
                              str(stack.alertmanager.config_dir), scrape_interval="1s")


def self_target(stack: MonitoringStack) -> str:
    return f"127.0.0.1:{stack.prometheus.port}"


def wait_previous_config_up(stack: MonitoringStack, timeout: float = 40.0) -> None:
    """The state a stale judgement would see: the previous config's own target scraped and up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        targets = requests.get(f"{stack.prometheus.url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        if targets and all(t["health"] == "up" for t in targets):
            return
        time.sleep(0.5)
    raise AssertionError("Prometheus never scraped itself under its initial config")


def install(stack: MonitoringStack, jobs: dict[str, list[str]]) -> None:
    document = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                                   for job, targets in jobs.items()]}
    (stack.prometheus.config_dir / "prometheus.yml").write_text(yaml.safe_dump(document))
    assert requests.post(f"{stack.prometheus.url}/-/reload", timeout=30).status_code == 200


def test_dead_target_never_passes_on_the_previous_target_list(stack: MonitoringStack) -> None:
    wait_previous_config_up(stack)
    expected = {"prometheus": [self_target(stack)], "launch": sorted([DEAD, self_target(stack)])}
    install(stack, expected)
    settings = settings_for(stack)

    # At once: whatever Prometheus shows now (old list or new targets not scraped yet), it is not a pass.
    first = _targets_state(settings, expected)
    assert first["problems"], first

    final = _until(time.monotonic() + 20, lambda: _targets_state(settings, expected), lambda t: not t["problems"])
    assert len(final["problems"]) == 1, final["problems"]
    assert "not up" in final["problems"][0] and f"launch/{DEAD}" in final["problems"][0]
    assert {(t["pool"], t["address"]) for t in final["targets"]} == {
        (job, address) for job, addresses in expected.items() for address in addresses}


def test_installed_targets_pass_once_scraped_under_the_new_config(stack: MonitoringStack) -> None:
    wait_previous_config_up(stack)
    expected = {"prometheus": [self_target(stack)], "launch": [self_target(stack)]}
    install(stack, expected)
    settings = settings_for(stack)
    state = _until(time.monotonic() + 20, lambda: _targets_state(settings, expected), lambda t: not t["problems"])
    assert state["problems"] == []
    assert state["running_config"] == expected
    assert all(t["health"] == "up" and t["scraped_since_reload"] for t in state["targets"]), state["targets"]


def test_config_prometheus_does_not_run_is_a_problem(stack: MonitoringStack) -> None:
    """The installed file was never loaded (no reload): Prometheus's running config decides."""
    wait_previous_config_up(stack)
    expected = {"launch": [self_target(stack)]}
    state = _targets_state(settings_for(stack), expected)
    assert any("not running the installed scrape config" in p for p in state["problems"]), state["problems"]
    assert any("previous config still active" in p for p in state["problems"]), state["problems"]
