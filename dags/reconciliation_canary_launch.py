"""378 Reconciliation Platform (Airflow DAG): canary launch 10% -> 50% -> 100% through the proxy.

Analysis at each step (CFUR, p95, error rate); automatic rollback (CFUR < 99.5%, p95 > 1 s,
error > 1%) sends all traffic back to the stable version; then hourly checks for four hours.
"""

from include.launch.dags import phase_dag

dag = phase_dag("reconciliation", "canary_launch")
