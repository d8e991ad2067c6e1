"""AccuBooks manual rollback (Airflow DAG): the engineering lead rolls a completed phase back alone.

Seed 000: the engineering lead may roll back without approval. Restores the phase's snapshot on
every replica, reads it back, records why; the next phase's order gate refuses until it completes again.
"""

from include.launch.dags import manual_rollback_dag

dag = manual_rollback_dag("accubooks")
