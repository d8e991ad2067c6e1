"""What a real Airflow stack running Phase 1 needs around it: a ledger, a demo target with live
traffic, a backup of its database, the rollback plan, a Slack receiver, and the connections naming
them (shared by the e2e and the Celery tests, which differ only in the Airflow they start)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from include.devservices.demo_target_local import LiveTraffic, RunningTarget, running_target
from include.devservices.postgres import PostgresServer, airflow_connection_json
from include.devservices.slack_receiver import SlackReceiver
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.store import EvidenceStore
from tests.launch.phase1.conftest import ROLLBACK_PLAN, write_backup_status


@dataclass(frozen=True)
class Phase1Services:
    ledger_url: str
    metadata_url: str
    target: RunningTarget
    slack: SlackReceiver
    evidence: Path
    env: dict[str, str]  # the connections and the evidence base, for every Airflow process


@contextmanager
def phase1_services(pg_server: PostgresServer, work: Path, prefix: str) -> Iterator[Phase1Services]:
    """Start them, yield, stop them and drop their databases (``prefix`` names the databases)."""
    ledger_url = pg_server.create_database(f"{prefix}_ledger")
    target_url = pg_server.create_database(f"{prefix}_target")
    metadata_url = pg_server.create_database(f"{prefix}_airflow")
    Ledger(ledger_url).ensure_schema()
    evidence = work / "evidence"  # one base for every worker (a volume or an object store elsewhere)
    write_backup_status(evidence, target_url)
    EvidenceStore(str(evidence)).write_text("pre_launch/rollback_plan.md", ROLLBACK_PLAN)
    slack = SlackReceiver().start()
    try:
        with running_target(target_url, work / "target") as target, LiveTraffic(target.urls):
            env = {"AIRFLOW_CONN_LAUNCH_DB": airflow_connection_json(ledger_url),
                   "AIRFLOW_CONN_ACCUBOOKS_DB": airflow_connection_json(target_url),
                   "AIRFLOW_CONN_ACCUBOOKS_API": target.connection_json(),
                   "AIRFLOW_CONN_SLACK_LAUNCH": slack.connection_json(),
                   "LAUNCH_EVIDENCE_BASE": str(evidence)}
            yield Phase1Services(ledger_url, metadata_url, target, slack, evidence, env)
    finally:
        slack.stop()
        for url in (ledger_url, target_url, metadata_url):
            pg_server.drop_database(url)
