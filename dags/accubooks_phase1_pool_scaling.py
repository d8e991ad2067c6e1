"""AccuBooks Phase 1 (Airflow DAG): database connection pool scaling.

Pool max 50 -> 200, min 10 -> 20, idle timeout 30 s, connection timeout 2 s; 500 synthetic
requests, then 60 minutes of sustained monitoring; automatic rollback on any broken threshold.
"""

from include.launch.dags import phase_dag

dag = phase_dag("accubooks", "phase1_pool_scaling")
