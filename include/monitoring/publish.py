"""Dashboards go to Grafana's HTTP API when a grafana connection exists, else to files: the plan's
dashboards folder (``launch/dashboards/``) plus a Grafana file-provisioning provider that points at it,
so a Grafana started later picks them up unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import requests
import yaml

from include.launch.evidence.store import PROJECT_ROOT
from include.launch.plan.models import Plan
from include.monitoring.dashboards import dashboard
from include.monitoring.settings import MonitoringSettings

DASHBOARDS_ENV = "LAUNCH_DASHBOARDS_DIR"
PROVIDER_FILE = "provisioning/dashboards/launch.yaml"


def dashboards_dir(plan: Plan) -> Path:
    """The plan's dashboards folder; env ``LAUNCH_DASHBOARDS_DIR`` overrides it (tests, other hosts)."""
    path = Path(os.environ.get(DASHBOARDS_ENV) or plan.evidence.dashboards)
    return path if path.is_absolute() else PROJECT_ROOT / path


def render_dashboards(plan: Plan, names: list[str]) -> dict[str, dict[str, Any]]:
    return {name: dashboard(plan, name) for name in names}


def publish(plan: Plan, settings: MonitoringSettings, names: list[str]) -> dict[str, Any]:
    """Publish every named dashboard; returns where each one went (uid, url or path)."""
    documents = render_dashboards(plan, names)
    if settings.grafana_url:
        return {"mode": "grafana", "dashboards": {name: _push(settings, doc) for name, doc in documents.items()}}
    folder = dashboards_dir(plan)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, document in documents.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written[name] = {"uid": document["uid"], "path": str(path)}
    provider = folder / PROVIDER_FILE
    provider.parent.mkdir(parents=True, exist_ok=True)
    provider.write_text(yaml.safe_dump({"apiVersion": 1, "providers": [{
        "name": f"{plan.launch.id}-launch", "type": "file", "folder": plan.launch.name, "allowUiUpdates": False,
        "options": {"path": str(folder)}}]}, sort_keys=False))
    return {"mode": "files", "folder": str(folder), "provisioning": str(provider), "dashboards": written}


def _headers(settings: MonitoringSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.grafana_token}"} if settings.grafana_token else {}


def _push(settings: MonitoringSettings, document: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{settings.grafana_url}/api/dashboards/db", headers=_headers(settings), timeout=10,
                             json={"dashboard": document, "overwrite": True, "message": "launch pipeline"})
    if response.status_code != 200:
        raise RuntimeError(f"Grafana refused dashboard {document['uid']}: {response.status_code} {response.text[:300]}")
    body = response.json()
    return {"uid": body.get("uid", document["uid"]), "url": body.get("url", ""), "version": body.get("version")}


def load_published(plan: Plan, settings: MonitoringSettings, names: list[str]) -> dict[str, dict[str, Any] | str]:
    """Read each dashboard back from where it was published: its JSON, or the reason it is unreadable."""
    found: dict[str, dict[str, Any] | str] = {}
    for name, expected in render_dashboards(plan, names).items():
        try:
            if settings.grafana_url:
                response = requests.get(f"{settings.grafana_url}/api/dashboards/uid/{expected['uid']}",
                                        headers=_headers(settings), timeout=10)
                response.raise_for_status()
                found[name] = response.json()["dashboard"]
            else:
                found[name] = json.loads((dashboards_dir(plan) / f"{name}.json").read_text())
        except (OSError, ValueError, KeyError, requests.RequestException) as exc:
            found[name] = f"{type(exc).__name__}: {exc}"
    return found
