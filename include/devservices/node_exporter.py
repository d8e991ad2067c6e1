"""Debian's node exporter for the demo and the tests: the database host's CPU, read from the
exporter's own ``/metrics`` (only the cpu collector; 127.0.0.1 only)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from include.devservices.prometheus import HOST, Service, binary, free_port

BINARY = "prometheus-node-exporter"


def start_node_exporter(base: Path) -> Service:
    """Start it and wait until it serves CPU counters; a process that exits early fails with its log."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    service = Service("node-exporter", port, base, base / "node_exporter.log")
    command = [binary(BINARY), f"--web.listen-address={HOST}:{port}", "--collector.disable-defaults",
               "--collector.cpu", "--log.level=warn"]
    with service.log_file.open("ab") as log:
        service.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"node exporter exited with {service.process.returncode}:\n{service.log_tail()}")
        try:
            if "node_cpu_seconds_total" in requests.get(f"{service.url}/metrics", timeout=1).text:
                return service
        except requests.RequestException:
            pass
        time.sleep(0.2)
    service.stop()
    raise TimeoutError(f"node exporter not serving on {service.url}:\n{service.log_tail()}")


def connection_json(service: Service) -> str:
    """The http connection a ``node_exporter`` metric source names (its host is the base URL)."""
    return json.dumps({"conn_type": "http", "host": service.url})


@contextmanager
def running_node_exporter(base: Path) -> Iterator[Service]:
    service = start_node_exporter(base)
    try:
        yield service
    finally:
        service.stop()
