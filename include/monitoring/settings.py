"""Where monitoring lives, read from the Airflow connections the plan names.

The prometheus and alertmanager connections are ``http`` connections whose host is the base URL;
their extra says where the config files are installed and how often things happen:

- prometheus extra: ``config_dir`` (prometheus.yml and rules/ go here), ``scrape_interval`` (15s),
  ``evaluation_interval`` (15s), ``extra_rules`` (team rule files installed beside the rendered
  ones), ``verify_timeout_seconds`` (how long verify waits for rules, targets and data; 120).
- alertmanager extra: ``config_dir`` (alertmanager.yml and the secret file), ``group_wait`` (30s),
  ``group_interval`` (5m), ``repeat_interval`` (4h), ``pager_url`` (the pager's webhook; without it
  the pager receiver has no integration and the evidence says so).
- grafana (optional): host = base URL, password = API token; without it dashboards are files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from include.launch.core.errors import ConfigurationError
from include.launch.plan.models import Plan


def _conn(conn_id: str | None) -> Any | None:
    """The connection, or None when the plan names none or Airflow does not know it."""
    if not conn_id:
        return None
    from airflow.sdk.exceptions import AirflowNotFoundException

    from include.launch.core.connections import get_connection

    try:
        return get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def base_url(conn: Any, default_port: int) -> str:
    host = str(conn.host or "")
    if "://" not in host:
        host = f"http://{host}:{conn.port or default_port}"
    return host.rstrip("/")


def host_port(url: str) -> str:
    """``http://127.0.0.1:9090/x`` -> ``127.0.0.1:9090`` (what a Prometheus static target is)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.hostname}:{port}"


@dataclass(frozen=True)
class MonitoringSettings:
    """Everything the renderers, the applier and the checks need, resolved once per task."""

    prometheus_url: str
    prometheus_dir: str
    alertmanager_url: str
    alertmanager_dir: str
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    extra_rules: list[str] = field(default_factory=list)
    verify_timeout_seconds: float = 120.0
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    pager_url: str = field(default="", repr=False)
    grafana_url: str = ""
    grafana_token: str = field(default="", repr=False)

    @property
    def rate_window(self) -> str:
        """Four scrapes: the shortest window rate() is reliable over."""
        return f"{max(4 * seconds(self.scrape_interval), 4):g}s"


def seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for suffix in ("ms", "s", "m", "h", "d"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def load_settings(plan: Plan) -> MonitoringSettings:
    """Read the connections; a missing one or a missing config_dir is a configuration error."""
    names = plan.connections
    prometheus, alertmanager = _conn(names.prometheus), _conn(names.alertmanager)
    if prometheus is None or alertmanager is None:
        missing = [n for n, c in ((names.prometheus, prometheus), (names.alertmanager, alertmanager)) if c is None]
        raise ConfigurationError(f"monitoring needs the connections {missing} (http, host = base URL)")
    p_extra, a_extra = prometheus.extra_dejson or {}, alertmanager.extra_dejson or {}
    for conn_id, extra in ((names.prometheus, p_extra), (names.alertmanager, a_extra)):
        if not extra.get("config_dir"):
            raise ConfigurationError(f"connection {conn_id!r}: extra.config_dir must say where the config is installed")
    grafana = _conn(names.grafana)
    return MonitoringSettings(
        prometheus_url=base_url(prometheus, 9090), prometheus_dir=str(p_extra["config_dir"]),
        alertmanager_url=base_url(alertmanager, 9093), alertmanager_dir=str(a_extra["config_dir"]),
        scrape_interval=str(p_extra.get("scrape_interval", "15s")),
        evaluation_interval=str(p_extra.get("evaluation_interval", "15s")),
        extra_rules=[str(path) for path in p_extra.get("extra_rules", [])],
        verify_timeout_seconds=float(p_extra.get("verify_timeout_seconds", 120)),
        group_wait=str(a_extra.get("group_wait", "30s")), group_interval=str(a_extra.get("group_interval", "5m")),
        repeat_interval=str(a_extra.get("repeat_interval", "4h")), pager_url=str(a_extra.get("pager_url", "")),
        grafana_url=base_url(grafana, 3000) if grafana is not None else "",
        grafana_token=str(grafana.password or "") if grafana is not None else "",
    )
