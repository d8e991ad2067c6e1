"""AccuBooks Phase 3 (Airflow DAG): controlled beta.

Enroll 10-20 invitees (beta flag per tenant), detailed logging for 72 hours, invitations by Slack
and email, then the first watch window; rollback pauses the beta, keeps the data and exports it.
"""

from include.launch.dags import phase_dag

dag = phase_dag("accubooks", "phase3_beta")
