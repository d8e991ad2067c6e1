"""What Phase 2 leaves behind, for tests of the phases after it: a real Prometheus scraping every
AccuBooks replica as job ``accubooks`` (1 s scrapes), and Alertmanager with nothing firing, behind the
plan's ``prometheus`` and ``alertmanager`` connections."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def accubooks_scraped(folder: Path, urls: list[str], setenv: Callable[[str, str], None]) -> Iterator[Any]:
    """The monitoring stack in ``folder``, its connections set with ``setenv`` (a MonkeyPatch's)."""
    import yaml

    from include.devservices.prometheus import monitoring_stack
    from include.monitoring.client import reload
    from include.monitoring.prometheus_config import CONFIG_FILE, prometheus_document
    from include.monitoring.settings import MonitoringSettings

    with monitoring_stack(folder) as stack:
        settings = MonitoringSettings(stack.prometheus.url, str(stack.prometheus.config_dir), stack.alertmanager.url,
                                      str(stack.alertmanager.config_dir), scrape_interval="1s",
                                      evaluation_interval="1s")
        document = prometheus_document("accubooks", urls, settings, stack.prometheus.config_dir)
        (stack.prometheus.config_dir / CONFIG_FILE).write_text(yaml.safe_dump(document, sort_keys=False))
        reload(stack.prometheus.url)
        setenv("AIRFLOW_CONN_PROMETHEUS", json.dumps(stack.prometheus_connection()))
        setenv("AIRFLOW_CONN_ALERTMANAGER", json.dumps(stack.alertmanager_connection()))
        yield stack
