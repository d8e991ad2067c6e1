"""378 Reconciliation incidents (Airflow DAGs): acknowledge, mitigate and resolve an incident as the
signed-in user (``reconciliation_incident_step``) or as whoever answers the request in Required
Actions (``reconciliation_incident_response``, human in the loop), and page for one nobody
acknowledged within its severity's respond_within_minutes (``reconciliation_incident_escalation``,
every five minutes). Only the roles the plan names may resolve a P0.
"""

from include.launch.dags import incident_dags

escalation, step, response = incident_dags("reconciliation")
