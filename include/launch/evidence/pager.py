"""Paging the on-call engineer: a P0 the engine finds itself (a breach after a rollback) must wake
someone, not only sit in a Slack channel.

The pager is an HTTP connection the plan names (``connections.pager``): its host is the pager's
events URL and its password, when set, the routing key (a secret: it never reaches the ledger, a log
or a message). The body follows the common "events" shape (``routing_key``, ``event_action``,
``dedup_key``, ``payload.summary/severity/source``) that pager services accept. A page that cannot
be delivered after the retries is a ``page_failed`` ledger row and a Slack line, never an exception:
the caller has already failed the run loudly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from include.launch.core.redact import redact_text

if TYPE_CHECKING:
    from include.launch.evidence.runtime import PhaseRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One page: what broke, how bad, and a key that folds repeats of the same incident together."""

    summary: str
    severity: str
    source: str
    dedup_key: str

    def body(self, routing_key: str) -> dict[str, object]:
        return {"routing_key": routing_key, "event_action": "trigger", "dedup_key": self.dedup_key,
                "payload": {"summary": redact_text(self.summary)[:1000], "severity": self.severity,
                            "source": self.source}}


def send_page(conn_id: str, page: Page, *, attempts: int = 3, timeout_seconds: float = 5.0) -> None:
    """POST the page; raise the last error after ``attempts`` tries with exponential backoff."""
    import requests
    from tenacity import retry, stop_after_attempt, wait_exponential

    from include.launch.core.connections import get_connection

    conn = get_connection(conn_id)
    url = str(conn.host or "")
    if "://" not in url:
        raise ValueError(f"pager connection {conn_id!r} has no URL in its host field")

    @retry(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=0.5, max=4), reraise=True)
    def post() -> None:
        response = requests.post(url, json=page.body(str(conn.password or "")), timeout=timeout_seconds)
        response.raise_for_status()

    post()


def page(run: PhaseRun, *, severity: str, summary: str, dedup_key: str) -> bool:
    """Page through the plan's pager connection and record it; False (and a ledger row, and Slack)
    when the plan names no pager or the page could not be delivered."""
    conn_id = run.spec.plan.connections.pager
    where = f"{run.spec.launch_id}/{run.spec.phase.id}"
    if not conn_id:
        error = "the plan names no pager connection (connections.pager)"
    else:
        try:
            send_page(conn_id, Page(summary=summary, severity=severity, source=where, dedup_key=dedup_key))
            run.record("paged", severity, {"connection": conn_id, "summary": summary, "dedup_key": dedup_key})
            return True
        except Exception as exc:  # noqa: BLE001 - a pager outage must not hide the P0 it was carrying
            error = redact_text(f"{type(exc).__name__}: {exc}")[:500]
    log.error("page not delivered for %s: %s", where, error)
    run.record("page_failed", "failed", {"connection": conn_id, "summary": summary, "error": error})
    run.notify("failed", f"PAGE NOT DELIVERED ({error}): {summary}", severity=severity)
    return False
