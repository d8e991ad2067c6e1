"""Real Prometheus and Alertmanager processes on free loopback ports, for tests and ``make demo``.

They run as our own child processes (never the system services) with their own data and config
folders, ``--web.enable-lifecycle`` so the pipeline reloads them over HTTP exactly as it would in
production, and Alertmanager's gossip cluster switched off so nothing listens beyond 127.0.0.1.
Each starts with a minimal config (no launch rules, a receiver that sends nothing): that is the
"before" a Phase 2 rollback must restore.

Run alone: ``python -m include.devservices.prometheus --dir /tmp/mon`` prints the two
``AIRFLOW_CONN_*`` values and runs until interrupted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from include.devservices.ports import free_port

PROMETHEUS_BIN = "prometheus"
ALERTMANAGER_BIN = "prometheus-alertmanager"
HOST = "127.0.0.1"



def binary(name: str) -> str:
    """The absolute path of a Debian-packaged binary, or a clear message how to get it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
    if not found:
        raise FileNotFoundError(f"{name} not found: install the Debian packages prometheus and "
                                "prometheus-alertmanager (scripts/ensure-apt.sh prometheus prometheus-alertmanager)")
    return found


@dataclass
class Service:
    """One running process: its URL, config folder and log file."""

    name: str
    port: int
    config_dir: Path
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll /-/ready; a process that exits early fails with its own log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready on {self.url} within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:] if self.log_file.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s: only our own process, by its handle."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@dataclass
class MonitoringStack:
    """Prometheus + Alertmanager, and the connection JSON that points the pipeline at them."""

    prometheus: Service
    alertmanager: Service
    scrape_interval: str = "1s"
    group_wait: str = "1s"
    verify_timeout_seconds: float = 60.0
    pager_url: str = ""

    def prometheus_connection(self) -> dict[str, Any]:
        return {"conn_type": "http", "host": self.prometheus.url, "extra": {
            "config_dir": str(self.prometheus.config_dir), "scrape_interval": self.scrape_interval,
            "evaluation_interval": self.scrape_interval, "verify_timeout_seconds": self.verify_timeout_seconds}}

    def alertmanager_connection(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"config_dir": str(self.alertmanager.config_dir), "group_wait": self.group_wait,
                                 "group_interval": "5s", "repeat_interval": "1h"}
        if self.pager_url:
            extra["pager_url"] = self.pager_url
        return {"conn_type": "http", "host": self.alertmanager.url, "extra": extra}

    def stop(self) -> None:
        self.prometheus.stop()
        self.alertmanager.stop()


def initial_prometheus_config(port: int) -> dict[str, Any]:
    """Self-scrape only, no rules: what a fresh install looks like before Phase 2."""
    return {"global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
            "scrape_configs": [{"job_name": "prometheus", "static_configs": [{"targets": [f"{HOST}:{port}"]}]}]}


def initial_alertmanager_config() -> dict[str, Any]:
    """A single receiver with no integrations: alerts go nowhere until Phase 2 installs routing."""
    return {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}


def start_prometheus(base: Path) -> Service:
    port = free_port()
    config_dir, data_dir = base / "prometheus", base / "prometheus-data"
    config_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "prometheus.yml"
    if not config.exists():
        config.write_text(yaml.safe_dump(initial_prometheus_config(port), sort_keys=False))
    service = Service("prometheus", port, config_dir, base / "prometheus.log")
    command = [binary(PROMETHEUS_BIN), f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
               f"--web.listen-address={HOST}:{port}", "--web.enable-lifecycle", "--log.level=warn"]
    service.process = _spawn(command, service.log_file)
    return service


def start_alertmanager(base: Path) -> Service:
    port = free_port()
    config_dir, data_dir = base / "alertmanager", base / "alertmanager-data"
    config_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "alertmanager.yml"
    if not config.exists():
        config.write_text(yaml.safe_dump(initial_alertmanager_config(), sort_keys=False))
    service = Service("alertmanager", port, config_dir, base / "alertmanager.log")
    command = [binary(ALERTMANAGER_BIN), f"--config.file={config}", f"--storage.path={data_dir}",
               f"--web.listen-address={HOST}:{port}", "--cluster.listen-address=", "--log.level=warn"]
    service.process = _spawn(command, service.log_file)
    return service


def _spawn(command: list[str], log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def started(start: Callable[[Path], Service], base: Path, attempts: int = 3) -> Service:
    """Start a service and wait until it is ready. Another process can take the port between
    ``free_port()`` and the child's bind (parallel test workers do); that start is retried on a new
    port, any other failure is raised with the service's log tail."""
    for attempt in range(1, attempts + 1):
        service = start(base)
        try:
            service.wait_ready()
            return service
        except RuntimeError as exc:
            service.stop()
            if "address already in use" not in str(exc) or attempt == attempts:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


@contextmanager
def monitoring_stack(base: Path, **settings: Any) -> Iterator[MonitoringStack]:
    """Start both, wait until ready, yield, and always stop them."""
    base.mkdir(parents=True, exist_ok=True)
    prometheus = started(start_prometheus, base)
    alertmanager: Service | None = None
    try:
        alertmanager = started(start_alertmanager, base)
        yield MonitoringStack(prometheus, alertmanager, **settings)
    finally:
        prometheus.stop()
        if alertmanager is not None:
            alertmanager.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m include.devservices.prometheus")
    parser.add_argument("--dir", type=Path, required=True, help="config, data and log folders go here")
    parser.add_argument("--scrape-interval", default="5s")
    args = parser.parse_args()
    with monitoring_stack(args.dir, scrape_interval=args.scrape_interval, group_wait="10s") as stack:
        print(f"AIRFLOW_CONN_PROMETHEUS='{json.dumps(stack.prometheus_connection())}'", flush=True)
        print(f"AIRFLOW_CONN_ALERTMANAGER='{json.dumps(stack.alertmanager_connection())}'", flush=True)
        with suppress(KeyboardInterrupt):
            signal.sigwait({signal.SIGINT, signal.SIGTERM})


if __name__ == "__main__":
    main()
