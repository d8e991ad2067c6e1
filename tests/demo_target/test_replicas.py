"""Replicas: a rolling restart under steady load drops no request; a crashed replica comes back."""

from __future__ import annotations

import itertools
import threading

import requests

from include.demo_target import supervisor
from tests.demo_target.conftest import ClusterFactory


class SteadyLoad(threading.Thread):
    """Round-robin over the replicas the supervisor reports healthy, like a load balancer would."""

    def __init__(self, state: supervisor.ClusterState) -> None:
        super().__init__(daemon=True)
        self.state = state
        self.stop = threading.Event()
        self.ok: dict[str, int] = {}
        self.failures: list[str] = []

    def run(self) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            urls = self.state.healthy_urls()
            if not urls:
                self.failures.append("no healthy replica")
                continue
            url = urls[n % len(urls)]
            try:
                response = requests.get(f"{url}/tenants/{1 + n % 30}/trial-balance", timeout=10)
            except requests.RequestException as exc:
                self.failures.append(f"{url}: {exc}")
                continue
            if response.status_code != 200:
                self.failures.append(f"{url}: HTTP {response.status_code}")
            else:
                self.ok[url] = self.ok.get(url, 0) + 1


def test_rolling_restart_under_load_drops_no_request(cluster: ClusterFactory) -> None:
    state = cluster(replicas=2, faults=False)
    old_pids = [r.pid for r in state.replicas]
    load = SteadyLoad(state)
    load.start()
    try:
        log = supervisor.rolling_restart(state, drain_seconds=0.5)
    finally:
        load.stop.set()
        load.join(timeout=30)
    assert load.failures == []
    assert [entry["replica"] for entry in log] == [0, 1]
    assert all(new != old for new, old in zip([r.pid for r in state.replicas], old_pids, strict=True))
    assert set(load.ok) == {r.url for r in state.replicas}  # both replicas served during the restart
    assert state.healthy_urls() == [r.url for r in state.replicas]


def test_crashed_replica_is_detected_and_restarted(cluster: ClusterFactory) -> None:
    state = cluster(replicas=2, faults=True)
    victim = state.replicas[1]
    token = supervisor.admin_token(state.state_dir)
    requests.post(
        f"{victim.url}/admin/faults",
        headers={"Authorization": f"Bearer {token}"},
        json={"crash": True},
        timeout=5,
    )
    assert supervisor.wait_exit(victim.pid, 10)
    supervisor.refresh_status(state)
    assert victim.status == "dead" and state.healthy_urls() == [state.replicas[0].url]
    supervisor.restart_replica(state, 1, drain_seconds=0)
    assert requests.get(f"{victim.url}/health", timeout=5).json()["replica"] == 1
    assert len(state.healthy_urls()) == 2
