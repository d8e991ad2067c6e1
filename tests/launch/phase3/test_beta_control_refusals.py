"""Every refusal of the beta control DAG's task names why, records it, and touches nothing: the wrong
role, no signed-in user, no reason, no beta running, a day outside it, a closed window, a pause of a
paused beta, a resume of a running one, and a resume while an incident stops all changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.launch.evidence.ledger import Event, Ledger
from include.launch.plan import load_plan
from include.launch.plan.loader import PLANS_DIR
from include.launch.scorecard.pause import control
from include.launch.spec.scorecard import build_scorecard_spec
from tests.harness.scorecard import open_window

START = date(2025, 6, 2)
REASON = "Customers report wrong balances; pausing while we look."
Setup = Callable[[str], None]


def window(ledger_url: str) -> None:
    open_window(ledger_url, "accubooks", "phase3_beta", START, 14, [1, 2])


def row(event: str, **payload: Any) -> Setup:
    def append(ledger_url: str) -> None:
        window(ledger_url)
        Ledger(ledger_url).append(Event(launch_id="accubooks", phase_id="phase3_beta", run_id="earlier", event=event,
                                        outcome="successful", payload=payload))
    return append


def open_p0(ledger_url: str) -> None:
    row("beta_paused", paused_on="2025-06-04", reason="P0", incidents=["INC-1"])(ledger_url)
    Ledger(ledger_url).append(Event(launch_id="accubooks", phase_id="phase2_monitoring", run_id="other",
                                    event="incident_opened", outcome="P0",
                                    payload={"incident_id": "INC-2", "title": "Payments API down", "severity": "P0"}))


CASES: list[tuple[str, str, str, str, Setup, str]] = [
    # (name, action, user, reason, setup, the refusal)
    ("wrong_role_pause", "pause", "exec_approver", REASON, window,
     "pause refused: exec_approver holds Executive in the plan; only Engineering Lead may pause the beta"),
    ("wrong_role_resume", "resume", "eng_lead", REASON, row("beta_paused", paused_on="2025-06-04"),
     "resume refused: eng_lead holds Engineering Lead in the plan; only Executive may resume the beta"),
    ("nobody_signed_in", "pause", "", REASON, window, "pause refused: no signed-in user triggered it"),
    ("no_reason", "pause", "eng_lead", "because", window,
     "pause refused: the reason must say why in at least 20 characters (got 7)"),
    ("no_beta", "pause", "eng_lead", REASON, lambda url: None,
     "pause refused: phase 'phase3_beta' has no beta running"),
    ("outside_the_beta", "pause", "eng_lead", REASON, window,
     "pause refused: 2025-07-01 is outside the beta (2025-06-02 to 2025-06-15)"),
    ("window_closed", "pause", "eng_lead", REASON, row("rollback_completed", reason="error rate > 1 %"),
     "pause refused: the beta's window was closed on"),
    ("already_paused", "pause", "eng_lead", REASON, row("beta_paused", paused_on="2025-06-04", reason="P0 INC-1"),
     "pause refused: the beta is already paused since 2025-06-04 (P0 INC-1)"),
    ("not_paused", "resume", "exec_approver", REASON, window, "resume refused: the beta is not paused"),
    ("stop_all_changes", "resume", "exec_approver", REASON, open_p0,
     "resume refused: incident(s) P0 INC-2 (Payments API down) still open; resolve them first"),
]


@pytest.mark.parametrize(("action", "user", "reason", "setup", "refusal"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_refusal_names_why_and_changes_nothing(action: str, user: str, reason: str, setup: Setup, refusal: str,
                                                   ledger_db: str, evidence_base: Any, slack: Any) -> None:
    setup(ledger_db)
    before = [r.event for r in Ledger(ledger_db).rows()]
    spec = build_scorecard_spec(load_plan("accubooks"), "beta_daily_metrics", PLANS_DIR / "accubooks.yaml")
    day = date(2025, 7, 1) if "outside" in refusal else date(2025, 6, 5)
    context = {"run_id": "manual__control", "params": {"action": action, "reason": reason},
               "ti": SimpleNamespace(task_id="beta_control"), "dag_run": SimpleNamespace(triggering_user_name=user),
               "logical_date": datetime.combine(day, datetime.min.time(), tzinfo=UTC)}
    with pytest.raises(AirflowFailException) as caught:
        control(spec, context)
    assert refusal in str(caught.value)
    after = Ledger(ledger_db).rows()
    assert [r.event for r in after] == [*before, "beta_control_refused"]  # recorded, nothing else written
    assert refusal in after[-1].payload["reason"] and after[-1].actor == user
