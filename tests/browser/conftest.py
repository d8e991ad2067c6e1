"""A real Airflow api-server (UI, REST API, the launch board plugin) for the browser test, and
headless Chromium from the Debian package driven by Playwright (never a browser download).

The api-server runs as its own process on this session's AIRFLOW_HOME (tests/conftest.py), so it
shares the metadata DB with ``dag.test()`` in the test process and inherits the connections the
test's fixtures set (ledger, Slack, evidence base, board plans): start it after those fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from include.devservices.airflow_local import PROJECT_ROOT, passwords_file
from include.devservices.ports import free_port
from tests.plugins.conftest import approval_phase  # noqa: F401 - the phase the browser approves

CHROMIUM = os.environ.get("LAUNCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("LAUNCH_TEST_ARTIFACTS", PROJECT_ROOT / "artifacts")) / "browser"


@dataclass(frozen=True)
class AirflowUI:
    """A running api-server: its base URL and the passwords of the test users (FAB auth manager)."""

    base_url: str
    passwords: dict[str, str]
    log: Path

    def password(self, user: str) -> str:
        return self.passwords[user]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server not healthy after {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture()
def airflow_ui(airflow_db: Path, tmp_path: Path) -> Iterator[AirflowUI]:
    """``airflow api-server`` on 127.0.0.1 and a free port (one worker), stopped after the test."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AIRFLOW__API__BASE_URL": base_url, "AIRFLOW__API__WORKERS": "1"}
    log = tmp_path / "api-server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_healthy(base_url, process, log)
        passwords = json.loads(passwords_file(Path(os.environ["AIRFLOW_HOME"])).read_text())
        yield AirflowUI(base_url, passwords, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture()
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where the test's screenshots go: ``artifacts/browser/<test name>/``."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file()
