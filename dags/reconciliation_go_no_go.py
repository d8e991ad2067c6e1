"""378 Reconciliation Platform (Airflow DAG): pre-launch gates and the Go/No-Go decision.

Security (secrets, 429, 403), indexes, backups and restore within the RTO, alert routing, a
1000-user load test, a chaos test, config, the Go/No-Go table of measured values, then four
sign-offs (CPO, CTO, DevOps lead, Security lead) by four different people.
"""

from include.launch.dags import phase_dag

dag = phase_dag("reconciliation", "go_no_go")
