"""How ``make demo`` ends on a failure: the phase, the failed task, the check's own reason, logs and evidence."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from include.demo_outcome import FailedRun, ledger_reason


def row(event: str, outcome: str, **payload: Any) -> Any:
    return SimpleNamespace(event=event, outcome=outcome, payload=payload)


def test_the_reason_is_the_newest_failed_rows_own_words() -> None:
    rows = [row("check_result", "successful", summary="healthy"),
            row("check_result", "failed", summary="freeze_window: inside change freeze month_end_close until ..."),
            row("phase_failed", "failed", reason="task_failure")]  # the callback's row says nothing of why
    assert ledger_reason(rows) == "check_result: freeze_window: inside change freeze month_end_close until ..."
    assert ledger_reason([row("approval_rejected", "rejected", comment="not today")]) == \
        "approval_rejected: not today"
    assert ledger_reason([row("freeze_refused", "failed", reason="no override")]) == "freeze_refused: no override"
    assert "see the task logs" in ledger_reason([row("phase_started", "")])


def test_the_message_names_phase_task_reason_logs_and_evidence() -> None:
    failed = FailedRun("accubooks_phase1_pool_scaling", "manual__1", ["pre_checks.freeze_window"],
                       "check_result: inside change freeze", Path("/x/logs/dag_id=a/run_id=manual__1"),
                       Path("/x/evidence/phase1_pool_scaling/manual__1"))
    text = failed.message()
    assert text.startswith("DEMO FAILED: accubooks_phase1_pool_scaling (run manual__1)")
    for part in ("failed task(s): pre_checks.freeze_window", "reason: check_result: inside change freeze",
                 "task logs: /x/logs/dag_id=a/run_id=manual__1", "evidence: /x/evidence/phase1_pool_scaling/manual__1"):
        assert part in text
    assert "Traceback" not in text
