"""A replica counts as changed only when its health shows the new settings and it is ready by the
target profile's rule (AccuBooks: a pool warmed to its minimum).

A tiny real HTTP server plays a replica whose pool fills over three /health polls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from include.launch.plan import load_plan
from include.launch.plugins.changes.catalog import SettingsChangeParams
from include.launch.plugins.changes.env_file import EnvFileApplier
from include.launch.plugins.target import Target


class WarmingReplica(ThreadingHTTPServer):
    """Answers /health with the new settings at once, but a pool that reaches min_size only later."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Health)
        self.sizes = sizes
        self.polls = 0


class _Health(BaseHTTPRequestHandler):
    server: WarmingReplica

    def do_GET(self) -> None:
        server = self.server
        size = server.sizes[min(server.polls, len(server.sizes) - 1)]
        server.polls += 1
        body = json.dumps({"pool": {"max": 200, "min": 20, "size": size}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def replica(request: pytest.FixtureRequest) -> Iterator[WarmingReplica]:
    server = WarmingReplica(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _health() -> Any:
    profile = load_plan("accubooks").target_profile
    assert profile is not None
    return profile.health


def _applier(timeout: float) -> EnvFileApplier:
    params = SettingsChangeParams(settings={"DB_POOL_MAX": 200, "DB_POOL_MIN": 20}, health_timeout_seconds=timeout)
    return EnvFileApplier(params, activation="reload")


@pytest.mark.parametrize("replica", [[0, 7, 20]], indirect=True)
def test_waits_until_the_pool_is_warm(replica: WarmingReplica) -> None:
    target = Target(replicas=[f"http://127.0.0.1:{replica.server_port}"])
    _applier(timeout=10)._wait_for(target, _health(), target.replicas[0],
                                   {"DB_POOL_MAX": "200", "DB_POOL_MIN": "20"})
    assert replica.polls == 3  # the settings matched on the first poll; the pool was warm only on the third


@pytest.mark.parametrize("replica", [[3]], indirect=True)
def test_a_pool_that_never_warms_fails_the_replica_with_what_it_saw(replica: WarmingReplica) -> None:
    target = Target(replicas=[f"http://127.0.0.1:{replica.server_port}"])
    with pytest.raises(TimeoutError, match=r"ready replica within 1 s \(last: .*'pool.size': 3"):
        _applier(timeout=1)._wait_for(target, _health(), target.replicas[0],
                                      {"DB_POOL_MAX": "200", "DB_POOL_MIN": "20"})
