"""Test-side names for the in-process Airflow helpers (shared with the demo in include.devservices)."""

from include.devservices.airflow_local import (
    HARNESS_DAGS,
    TEST_USERS,
    Answer,
    AnswerResult,
    ApprovalClient,
    ApprovalScript,
    configure_environment,
    migrate_metadata_db,
    run_dag,
    scratch_dags,
)

__all__ = [
    "HARNESS_DAGS", "TEST_USERS", "Answer", "AnswerResult", "ApprovalClient", "ApprovalScript",
    "configure_environment", "migrate_metadata_db", "run_dag", "scratch_dags",
]
