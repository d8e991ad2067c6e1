"""The engine that renders and runs a phase: DAG builder, task bodies, soak, approvals, decisions, locks, freeze."""
