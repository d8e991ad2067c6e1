"""prometheus.yml for a launch: scrape every replica of the target, Prometheus and Alertmanager
themselves (their own counters prove rule evaluation and notification delivery), load the rules
folder, and send alerts to Alertmanager."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from include.monitoring.settings import MonitoringSettings, host_port

RULES_FOLDER = "rules"
CONFIG_FILE = "prometheus.yml"


def prometheus_document(job: str, replicas: list[str], settings: MonitoringSettings,
                        config_dir: Path) -> dict[str, Any]:
    """config_dir is where the file will live (the installed folder, or a temp folder for promtool)."""
    targets = [host_port(url) for url in replicas]
    return {
        "global": {"scrape_interval": settings.scrape_interval, "evaluation_interval": settings.evaluation_interval,
                   "external_labels": {"launch": job}},
        "rule_files": [str(config_dir / RULES_FOLDER / "*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [host_port(settings.alertmanager_url)]}]}]},
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics",
             "static_configs": [{"targets": targets, "labels": {"service": job}}]},
            {"job_name": "prometheus", "static_configs": [{"targets": [host_port(settings.prometheus_url)]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": [host_port(settings.alertmanager_url)]}]},
        ],
    }
