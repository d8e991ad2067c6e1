"""378 Reconciliation incidents (Airflow DAGs): acknowledge, mitigate and resolve an incident as the signed-in
user (``reconciliation_incident_step``), and page for one nobody acknowledged within its severity's
respond_within_minutes (``reconciliation_incident_escalation``, every five minutes). Seed 000: a P0 stops
all changes until it is resolved; only the roles the plan names may resolve it.
"""

from include.launch.dags import incident_dags

escalation, step = incident_dags("reconciliation")
