"""Freeze-override grants as the ledger holds them, for the change guard, the phase report, the board
and the demo."""

from __future__ import annotations

from typing import Any

from include.launch.evidence.events import OVERRIDE_GRANTED


def granted_overrides(rows: list[Any]) -> list[dict[str, Any]]:
    """The grants among ledger rows, as recorded (for the change guard, the report and the board)."""
    return [dict(row.payload) | {"run_id": row.run_id, "phase_id": row.phase_id}
            for row in rows if row.event == OVERRIDE_GRANTED]


def grant_lines(grants: list[dict[str, Any]]) -> list[str]:
    """One line per grant, for the phase report and the demo."""
    return [f"Freeze override for {g['phase_id']}: {g.get('window_description') or g['window']}; requested by "
            f"{g['requested_by']}: \"{g['justification']}\"; approved by {', '.join(g['approved_by'])} at "
            f"{g['granted_at']}; valid until {g['expires_at']}" for g in grants]
