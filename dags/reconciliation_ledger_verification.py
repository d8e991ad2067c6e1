"""378 Reconciliation evidence ledger (Airflow DAG): every hour, the chain, every evidence file's hash and the
signed checkpoints verified (``reconciliation_ledger_verification``), the result shown on the launch board;
a broken ledger pages Slack as a P0 with the row that broke.
"""

from include.launch.dags import ledger_verification_dag

dag = ledger_verification_dag("reconciliation")
