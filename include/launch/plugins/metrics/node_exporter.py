"""The database host's CPU, from its node exporter's own ``/metrics`` (no Prometheus server needed).

``node_cpu_seconds_total`` counts seconds per CPU and mode; between two samples the busy share is
1 - idle / all. The exporter runs on the database host, so a remote database is measured where it
runs, never on the machine that runs the launch.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from include.launch.plugins.metrics.sample import Sample

SOURCE = "node_exporter"
IDLE_MODES = ("idle", "iowait")


def cpu_seconds(base_url: str, timeout: float = 5.0) -> dict[str, float]:
    """Total and idle CPU seconds over every CPU of the host."""
    response = requests.get(f"{base_url.rstrip('/')}/metrics", timeout=timeout)
    response.raise_for_status()
    total = idle = 0.0
    found = False
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "node_cpu_seconds_total":
                found = True
                total += sample.value
                if sample.labels.get("mode") in IDLE_MODES:
                    idle += sample.value
    if not found:
        raise RuntimeError(f"{base_url}/metrics has no node_cpu_seconds_total (is the cpu collector on?)")
    return {"total": total, "idle": idle}


def cpu_percent(previous: Sample | None, now: dict[str, float]) -> float | None:
    """Busy percent between two readings (None on the first sample)."""
    if previous is None or previous.error or "total" not in previous.raw:
        return None
    total = now["total"] - float(previous.raw["total"])
    idle = now["idle"] - float(previous.raw["idle"])
    if total <= 0:
        return None
    return max(0.0, min(100.0, (1 - idle / total) * 100))


def node_exporter(run: Any, params: Any, previous: Sample | None) -> Sample:
    from include.launch.core.connections import get_connection

    now = time.time()
    try:
        conn = get_connection(params.conn_id)
        host = str(conn.host or "")
        base = host if "://" in host else f"http://{host}:{conn.port or 9100}"
        reading = cpu_seconds(base)
    except Exception as exc:  # noqa: BLE001 - an unreadable source is an error sample, never a pass
        return Sample(now, SOURCE, error=f"{params.conn_id}: {type(exc).__name__}: {exc}")
    return Sample(now, SOURCE, {"db_cpu_percent": cpu_percent(previous, reading)}, reading)
