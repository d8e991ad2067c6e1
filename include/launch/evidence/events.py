"""Ledger event names one room writes and another reads (the writer and the readers must agree)."""

DECISION_GIVEN = "decision_given"  # the decision step's answer; the review change records it
OVERRIDE_GRANTED = "freeze_override_granted"  # a freeze override; the change guard, report and board read it
