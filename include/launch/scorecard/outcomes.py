"""One outcome per scorecard day, read from the ledger (for the window check, the review and status)."""

from __future__ import annotations

from include.launch.evidence.ledger import Ledger, Row
from include.launch.spec.scorecard import DAY_EVENT


def daily_outcomes(ledger: Ledger, launch_id: str, scorecard_id: str) -> dict[str, Row]:
    """The current ``scorecard_day`` row of each date (a re-run's row replaces the earlier one)."""
    current: dict[str, Row] = {}
    for row in ledger.rows(launch_id=launch_id, event=DAY_EVENT):
        payload = row.payload
        if payload.get("scorecard") == scorecard_id:
            current[str(payload["date"])] = row
    return dict(sorted(current.items()))
