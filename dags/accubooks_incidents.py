"""AccuBooks incidents (Airflow DAGs): acknowledge, mitigate and resolve an incident as the signed-in
user (``accubooks_incident_step``) or as whoever answers the request in Required Actions
(``accubooks_incident_response``, human in the loop), and page for one nobody acknowledged within its severity's
respond_within_minutes (``accubooks_incident_escalation``, every five minutes). Seed 000: a P0 stops
all changes until it is resolved; only the roles the plan names may resolve it.
"""

from include.launch.dags import incident_dags

escalation, step, response = incident_dags("accubooks")
