"""Phase 2 against real processes: the demo target's two replicas, a real Prometheus and Alertmanager
on loopback ports, a local Slack receiver and a second receiver playing the pager."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include.devservices.prometheus import MonitoringStack, monitoring_stack
from include.devservices.slack_receiver import SlackReceiver
from include.launch.evidence.ledger import Event, Ledger
from tests.conftest import postgres_connection_json
from tests.harness.target import LiveTraffic, RunningTarget, running_target


def use_monitoring(monkeypatch: pytest.MonkeyPatch, stack: MonitoringStack, **prometheus_extra: Any) -> None:
    """Point the prometheus/alertmanager connections at the stack (extra settings merged in)."""
    prometheus = stack.prometheus_connection()
    prometheus["extra"].update(prometheus_extra)
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS", json.dumps(prometheus))
    monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER", json.dumps(stack.alertmanager_connection()))


@pytest.fixture()
def pager() -> Iterator[SlackReceiver]:
    """Any webhook receiver will do for the pager: it records what Alertmanager posts."""
    receiver = SlackReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture()
def monitoring(tmp_path: Path, pager: SlackReceiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitoringStack]:
    with monitoring_stack(tmp_path / "monitoring", verify_timeout_seconds=45, pager_url=pager.url) as stack:
        use_monitoring(monkeypatch, stack)
        monkeypatch.setenv("LAUNCH_DASHBOARDS_DIR", str(tmp_path / "dashboards"))
        yield stack


@pytest.fixture()
def target(pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningTarget]:
    db_url = pg_server.create_database("target")
    with running_target(db_url, tmp_path / "target", tenants=20) as running:
        monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", running.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", postgres_connection_json(db_url))
        yield running
    pg_server.drop_database(db_url)


@pytest.fixture()
def phase2_env(target: RunningTarget, monitoring: MonitoringStack, ledger_db: str, evidence_base: Path,
               slack: SlackReceiver, pager: SlackReceiver) -> Iterator[dict[str, Any]]:
    """Phase 1 recorded as completed, live traffic flowing so every metric window has data."""
    Ledger(ledger_db).append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", event="phase_completed",
                                   outcome="successful"))
    with LiveTraffic(target.urls) as traffic:
        yield {"target": target, "monitoring": monitoring, "ledger": ledger_db, "evidence": evidence_base,
               "slack": slack, "pager": pager, "traffic": traffic}
