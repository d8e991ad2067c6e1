"""AccuBooks Phase 4 (Airflow DAG): post-beta review and the executive's rollout decision.

Pre-check that the beta's evidence is complete (14 daily files, both surveys), review the seven
success criteria and the scaling rules over the whole beta, then the executive decides YES /
CONDITIONAL / NO in the UI (the recommendation preselected); the answer becomes rollout_approval.md.
"""

from include.launch.dags import phase_dag

dag = phase_dag("accubooks", "phase4_review")
