"""Slack notifications that never fail or block a launch.

Messages go through the Slack provider's webhook hook (connection type ``slackwebhook``) as Block
Kit with a plain-text fallback. A Slack outage (5xx, timeout, refused) gets a bounded number of
retries with backoff; after that the failure becomes a ``notification_failed`` ledger row and the
caller carries on.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from include.launch.core.redact import redact_text
from include.launch.evidence.ledger import Event, Ledger

log = logging.getLogger(__name__)

OUTCOME_ICONS = {
    "completed": ":white_check_mark:",
    "approved": ":white_check_mark:",
    "rejected": ":no_entry:",
    "failed": ":x:",
    "rolled_back": ":rewind:",
    "incident": ":rotating_light:",
    "freeze_override": ":unlock:",
}


@dataclass(frozen=True)
class Message:
    """What people need in one glance: which launch, phase and task, what happened and why."""

    launch: str
    phase: str
    outcome: str
    reason: str = ""
    task: str = ""
    severity: str = ""
    link: str = ""
    details: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        severity = f"[{self.severity}] " if self.severity else ""
        return f"{severity}{self.launch} / {self.phase}: {self.outcome}"

    def text(self) -> str:
        parts = [self.title]
        if self.task:
            parts.append(f"task {self.task}")
        if self.reason:
            parts.append(self.reason)
        return redact_text(" | ".join(parts))

    def blocks(self) -> list[dict[str, Any]]:
        icon = OUTCOME_ICONS.get(self.outcome, ":information_source:")
        fields = [("Launch", self.launch), ("Phase", self.phase), ("Outcome", self.outcome)]
        if self.task:
            fields.append(("Task", self.task))
        if self.severity:
            fields.append(("Severity", self.severity))
        fields.extend(self.details.items())
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": redact_text(f"{icon} {self.title}")[:150]}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": redact_text(f"*{name}*\n{value}")} for name, value in fields[:10]
            ]},
        ]
        if self.reason:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": redact_text(self.reason)[:2900]}})
        if self.link:
            link = {"type": "mrkdwn", "text": f"<{self.link}|Open in Airflow>"}
            blocks.append({"type": "context", "elements": [link]})
        return blocks


def airflow_link(dag_id: str, run_id: str = "", task_id: str = "") -> str:
    """A link to the run in the Airflow UI (base from AIRFLOW__API__BASE_URL, else localhost:8080)."""
    base = os.environ.get("AIRFLOW__API__BASE_URL", "http://localhost:8080").rstrip("/")
    link = f"{base}/dags/{dag_id}"
    if run_id:
        link += f"/runs/{run_id}"
        if task_id:
            link += f"/tasks/{task_id}"
    return link


@dataclass
class SlackNotifier:
    """Sends Messages to one slackwebhook connection with bounded retries."""

    conn_id: str
    retries: int = 2
    backoff_seconds: float = 1.0
    timeout_seconds: float = 5.0
    ledger: Ledger | None = None
    run_id: str = ""

    def send(self, message: Message) -> bool:
        """True when Slack accepted the message; False (and a ledger row) when it did not."""
        last_error = ""
        for attempt in range(self.retries + 1):
            try:
                self._post(message)
                return True
            except Exception as exc:  # noqa: BLE001 - any Slack failure must not fail the launch
                last_error = redact_text(f"{type(exc).__name__}: {exc}")[:500]
                log.warning("Slack notification attempt %d failed: %s", attempt + 1, last_error)
                if attempt < self.retries:
                    time.sleep(self.backoff_seconds * (2**attempt))
        self._record_failure(message, last_error)
        return False

    def _post(self, message: Message) -> None:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        hook = SlackWebhookHook(slack_webhook_conn_id=self.conn_id, timeout=max(1, int(self.timeout_seconds)),
                                retry_handlers=[])
        hook.send(text=message.text(), blocks=message.blocks())

    def _record_failure(self, message: Message, error: str) -> None:
        if self.ledger is None:
            log.error("Slack notification lost and no ledger configured: %s", message.title)
            return
        self.ledger.append(Event(
            launch_id=message.launch, phase_id=message.phase, run_id=self.run_id, task_id=message.task,
            event="notification_failed", outcome="failed",
            payload={"title": message.title, "outcome": message.outcome, "error": error,
                     "attempts": self.retries + 1, "connection": self.conn_id},
        ))
